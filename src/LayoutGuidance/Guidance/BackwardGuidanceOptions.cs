namespace LayoutGuidance.Guidance;

/// <summary>
/// Backward guidance (paper §3.3: z_t ← z_t − η σ_t² ∇_{z_t} E, σ_t the noise level of the samples as the
/// scheduler holds them, see <see cref="Schedulers.Scheduler.SampleNoiseStd"/>). Defaults are the reference's
/// (η = 30, 5 iterations, threshold 0.2, first 10 steps); the rest of its setup — 51 LMS steps with
/// SD1.5 betas, classifier-free guidance 7.5, seed 445 — belongs to the generation options.
/// Out-of-range values throw <see cref="GuidanceOptionsException"/> on construction.
/// </summary>
public sealed record BackwardGuidanceOptions
{
    readonly double lossScale = 30;
    readonly int maxIterations = 5;
    readonly double lossThreshold = 0.2;

    /// <summary>η: the energy is multiplied by it before the gradient step.</summary>
    public double LossScale
    {
        get => lossScale;
        init => lossScale = double.IsFinite(value) && value > 0 ? value
            : throw new GuidanceOptionsException(nameof(LossScale), value, "η must be a finite number > 0 (turn guidance off with an empty Window)");
    }

    /// <summary>Gradient steps per denoising step at most.</summary>
    public int MaxIterations
    {
        get => maxIterations;
        init => maxIterations = value >= 1 ? value
            : throw new GuidanceOptionsException(nameof(MaxIterations), value, "at least 1 (turn guidance off with an empty Window)");
    }

    /// <summary>Iterating stops once the (unscaled) energy is at or below this.</summary>
    public double LossThreshold
    {
        get => lossThreshold;
        init => lossThreshold = double.IsFinite(value) && value >= 0 ? value
            : throw new GuidanceOptionsException(nameof(LossThreshold), value, "a finite number >= 0");
    }

    public StepWindow Window { get; init; } = StepWindow.First(10);

    /// <summary>Γ; null = the model family's default (<see cref="LayerSelection.ForFamily"/>).</summary>
    public LayerSelection? Layers { get; init; }

    public StoppingRule Stopping { get; init; } = StoppingRule.PaperFaithful;

    public DivergencePolicy OnDivergence { get; init; } = DivergencePolicy.Fail;
}
