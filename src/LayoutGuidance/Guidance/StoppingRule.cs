namespace LayoutGuidance.Guidance;

/// <summary>When backward guidance stops iterating (always within the window and at most MaxIterations per step).</summary>
public enum StoppingRule
{
    /// <summary>
    /// The reference's loop: one loss variable, 10000 (scaled) before the first step and never reset, and a
    /// step iterates while loss/η &gt; threshold. A step's first test therefore uses the previous step's last
    /// loss, and once a loss drops to the threshold guidance is over for every later step.
    /// </summary>
    PaperFaithful,
    /// <summary>Every step in the window iterates at least once; later iterations of a step test that step's own last loss.</summary>
    PerStep,
}
