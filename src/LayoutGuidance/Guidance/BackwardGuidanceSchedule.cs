namespace LayoutGuidance.Guidance;

/// <summary>
/// The loop control of backward guidance, apart from the tensors: whether to run another gradient
/// iteration, and whether an iteration's update may be applied. Use one per generation:
/// <code>
/// for each step i: for (var it = 0; schedule.ShouldIterate(i, it); it++)
///     { E = …; grad = …; if (schedule.Record(i, it, E, gradFinite)) z -= η σ² grad; }
/// </code>
/// Under <see cref="StoppingRule.PaperFaithful"/> this reproduces the reference's persistent-loss
/// behaviour exactly (see <see cref="StoppingRule"/>).
/// </summary>
public sealed class BackwardGuidanceSchedule(BackwardGuidanceOptions options)
{
    // The reference's `loss = 10000` holds the scaled loss; its test divides by η.
    double lastLoss = 10000 / options.LossScale;
    int lastLossStep = -1;
    int stoppedStep = -1;

    public BackwardGuidanceOptions Options { get; } = options;

    /// <summary>Whether iteration <paramref name="iteration"/> (0-based) of step <paramref name="stepIndex"/> runs.</summary>
    public bool ShouldIterate(int stepIndex, int iteration)
    {
        if (!Options.Window.Contains(stepIndex) || iteration >= Options.MaxIterations || stoppedStep == stepIndex) return false;
        return Options.Stopping switch
        {
            StoppingRule.PaperFaithful => lastLoss > Options.LossThreshold,
            _ => iteration == 0 || (lastLossStep == stepIndex && lastLoss > Options.LossThreshold),
        };
    }

    /// <summary>
    /// Records an iteration's unscaled energy; true when its update should be applied. A non-finite energy
    /// or gradient throws (<see cref="DivergencePolicy.Fail"/>) or ends this step's guidance without
    /// touching the carried loss (<see cref="DivergencePolicy.SkipUpdate"/>), so a NaN cannot silently
    /// switch guidance off for the remaining steps.
    /// </summary>
    public bool Record(int stepIndex, int iteration, double lossUnscaled, bool gradientFinite = true)
    {
        if (!double.IsFinite(lossUnscaled) || !gradientFinite)
        {
            if (Options.OnDivergence == DivergencePolicy.Fail)
                throw new GuidanceDivergedException(stepIndex, iteration, lossUnscaled, gradientFinite);
            stoppedStep = stepIndex;
            return false;
        }
        lastLoss = lossUnscaled;
        lastLossStep = stepIndex;
        return true;
    }
}
