namespace LayoutGuidance.Guidance;

/// <summary>What backward guidance does with a non-finite energy or gradient.</summary>
public enum DivergencePolicy
{
    /// <summary>Throw <see cref="GuidanceDivergedException"/>.</summary>
    Fail,
    /// <summary>Leave the latents as they are and end guidance for this step (a retry from the same latents would diverge again).</summary>
    SkipUpdate,
}
