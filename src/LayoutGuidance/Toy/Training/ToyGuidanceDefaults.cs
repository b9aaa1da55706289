namespace LayoutGuidance.Toy.Training;

/// <summary>
/// The toy model's own layout-guidance defaults, written as layout_guidance.json beside model_index.json
/// (snake_case keys). <see cref="Window"/> is [start, end) in denoising-step indices of a
/// <see cref="NumInferenceSteps"/>-step run. Measured with the grids of docs/toy-model.md: every
/// cross-attention layer (all three are 8×8) placed objects far better than mid_block + up_blocks.0
/// alone, and many small steps (η 5, 40 iterations) kept the shapes that fewer large ones (η 30,
/// 10 iterations) broke; the paper's early window works because the attention-alignment loss makes the
/// maps localise early (a later window [2, 12) placed fewer objects).
/// </summary>
public sealed record ToyGuidanceDefaults
{
    public const string FileName = "layout_guidance.json";

    public string GuidedLayers { get; init; } = "down_blocks.1+mid_block+up_blocks.0";
    public int[] Window { get; init; } = [0, 10];
    public double LossScale { get; init; } = 5;
    public int MaxIter { get; init; } = 40;
    public double LossThreshold { get; init; } = 0.05;
    public int NumInferenceSteps { get; init; } = 25;
    public double GuidanceScale { get; init; } = 5;
}
