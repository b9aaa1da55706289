namespace LayoutGuidance.Guidance;

/// <summary>
/// Forward guidance (paper §3.2), the baseline that edits cross-attention during the forward pass
/// instead of optimising the latent; see <see cref="ForwardGuidance.Edit"/> for the edit itself.
/// The paper gives no values the reference code could confirm (forward guidance was not released), so
/// <see cref="Strength"/> has no default; the window mirrors backward guidance's first 10 steps.
/// </summary>
public sealed record ForwardGuidanceOptions
{
    readonly double strength;
    readonly double smoothingSigma;

    /// <summary>λ ∈ [0, 1]: 0 leaves the maps alone, 1 replaces each phrase token's spatial distribution by the box target.</summary>
    public required double Strength
    {
        get => strength;
        init => strength = value is >= 0 and <= 1 ? value
            : throw new GuidanceOptionsException(nameof(Strength), value, "λ must lie in [0, 1]");
    }

    /// <summary>
    /// Standard deviation of the Gaussian that softens the box target, as a fraction of the image side
    /// (so the same value means the same softness at every UNet level); 0 = a sharp box.
    /// </summary>
    public double SmoothingSigma
    {
        get => smoothingSigma;
        init => smoothingSigma = double.IsFinite(value) && value >= 0 ? value
            : throw new GuidanceOptionsException(nameof(SmoothingSigma), value, "a finite fraction of the image side >= 0");
    }

    public StepWindow Window { get; init; } = StepWindow.First(10);

    /// <summary>The edited layers; null = the model family's default (<see cref="LayerSelection.ForFamily"/>).</summary>
    public LayerSelection? Layers { get; init; }
}
