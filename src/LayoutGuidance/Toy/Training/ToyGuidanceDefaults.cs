namespace LayoutGuidance.Toy.Training;

/// <summary>
/// The toy model's own layout-guidance defaults, written as layout_guidance.json beside model_index.json
/// (snake_case keys). <see cref="Window"/> is [start, end) in denoising-step indices of a
/// <see cref="NumInferenceSteps"/>-step run. Values measured with <c>train-toy --probe-guidance 32</c> on
/// the 5,000-step checkpoint (docs/toy-model.md): the paper's early window works because the
/// attention-alignment loss makes the maps localise early; steps after 10 change nothing (σ_t² is ~100×
/// smaller there); a low threshold with more iterations placed more objects than the reference's 0.2 / 5.
/// </summary>
public sealed record ToyGuidanceDefaults
{
    public const string FileName = "layout_guidance.json";

    public string GuidedLayers { get; init; } = "mid_block+up_blocks.0";
    public int[] Window { get; init; } = [0, 10];
    public double LossScale { get; init; } = 10;
    public int MaxIter { get; init; } = 10;
    public double LossThreshold { get; init; } = 0.05;
    public int NumInferenceSteps { get; init; } = 25;
    public double GuidanceScale { get; init; } = 5;
}
