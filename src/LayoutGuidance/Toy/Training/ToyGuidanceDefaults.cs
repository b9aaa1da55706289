namespace LayoutGuidance.Toy.Training;

/// <summary>
/// The toy model's own layout-guidance defaults, written as layout_guidance.json beside model_index.json
/// (snake_case keys). <see cref="Window"/> is [start, end) in denoising-step indices of a
/// <see cref="NumInferenceSteps"/>-step run; the tiny model's attention only localises from mid-sampling,
/// so the window starts after the first steps.
/// </summary>
public sealed record ToyGuidanceDefaults
{
    public const string FileName = "layout_guidance.json";

    public string GuidedLayers { get; init; } = "mid_block+up_blocks.0";
    public int[] Window { get; init; } = [2, 12];
    public double LossScale { get; init; } = 30;
    public int MaxIter { get; init; } = 5;
    public double LossThreshold { get; init; } = 0.2;
    public int NumInferenceSteps { get; init; } = 25;
    public double GuidanceScale { get; init; } = 5;
}
