namespace LayoutGuidance.Guidance;

/// <summary>One backward-guidance iteration: the unscaled energy before its update, and whether the update was applied.</summary>
public sealed record GuidanceIteration(int StepIndex, int Iteration, double Energy, bool Applied);

/// <summary>One denoising step as guidance saw it.</summary>
public sealed record GuidanceStep(int StepIndex, double Timestep, double Sigma, int Iterations);

/// <summary>Per phrase: the aggregated attention map (latent-grid resolution, sums to 1) and its in-box share.</summary>
public sealed record PhraseAttentionSummary(string Phrase, IReadOnlyList<BoundingBox> Boxes, float[] Heatmap, int Height, int Width, double InBoxRatio);

/// <summary>What one generation did, for metrics: steps, every iteration's energy, per-phrase attention, warnings, wall time.</summary>
public sealed record GuidanceRecord
{
    public required GuidanceMode Mode { get; init; }
    public required IReadOnlyList<GuidanceStep> Steps { get; init; }
    public required IReadOnlyList<GuidanceIteration> Iterations { get; init; }
    public required IReadOnlyList<PhraseAttentionSummary> Phrases { get; init; }
    public required IReadOnlyList<string> Warnings { get; init; }
    public required IReadOnlyList<string> GuidedLayers { get; init; }
    public TimeSpan Wall { get; init; }

    public int TotalIterations => Iterations.Count;
    public double? FinalEnergy => Iterations.Count == 0 ? null : Iterations[^1].Energy;
}
