using LayoutGuidance.Models.Clip;
using LayoutGuidance.Models.UNet;
using LayoutGuidance.Models.Vae;
using LayoutGuidance.Schedulers;

namespace LayoutGuidance.Toy.Training;

/// <summary>
/// The toy model: Stable Diffusion's architecture at a size a laptop CPU trains in an hour. A VAE maps
/// 64×64 images to 16×16×4 latents; a two-level UNet (16×16 and 8×8, cross-attention at both) denoises
/// them; a small CLIP text encoder over the caption vocabulary conditions it. Cross-attention runs only
/// at 8×8 (down_blocks.1, mid_block, up_blocks.0), where it is cheap: attention at 16×16 cost more than
/// the whole rest of the model on a CPU.
/// </summary>
public static class ToyArchitecture
{
    public const int LatentSize = ShapesDataset.ImageSize / 4;
    public const int TextHiddenSize = 64;

    public static AutoencoderKLConfig Vae(double scalingFactor = 1.0) => new()
    {
        BlockOutChannels = [32, 64, 64],
        DownBlockTypes = ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
        UpBlockTypes = ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
        LayersPerBlock = 1,
        LatentChannels = 4,
        NormNumGroups = 16,
        SampleSize = ShapesDataset.ImageSize,
        ScalingFactor = scalingFactor,
        ForceUpcast = false,
    };

    public static UNet2DConditionConfig UNet { get; } = new()
    {
        SampleSize = LatentSize,
        DownBlockTypes = ["DownBlock2D", "CrossAttnDownBlock2D"],
        UpBlockTypes = ["CrossAttnUpBlock2D", "UpBlock2D"],
        BlockOutChannels = [32, 64],
        LayersPerBlock = [1],
        CrossAttentionDim = [TextHiddenSize],
        AttentionHeadDim = [4],
        NormNumGroups = 16,
    };

    /// <summary>
    /// eos_token_id 2 as in every SD text encoder: the legacy pooling at argmax(input_ids), which finds
    /// &lt;|endoftext|&gt; because it is the vocabulary's last id.
    /// </summary>
    public static CLIPTextConfig TextEncoder { get; } = new()
    {
        VocabSize = CaptionVocabulary.Vocabulary.Count,
        HiddenSize = TextHiddenSize,
        IntermediateSize = 4 * TextHiddenSize,
        ProjectionDim = TextHiddenSize,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        MaxPositionEmbeddings = 77,
        HiddenAct = "quick_gelu",
        BosTokenId = CaptionVocabulary.Vocabulary[CaptionVocabulary.StartOfText],
        EosTokenId = 2,
        PadTokenId = 1,
    };

    /// <summary>Stable Diffusion's training noise schedule; sampling uses DDIM over the same betas.</summary>
    public static SchedulerConfig Scheduler { get; } = new()
    {
        ClassName = "DDIMScheduler",
        NumTrainTimesteps = 1000,
        BetaStart = 0.00085,
        BetaEnd = 0.012,
        BetaSchedule = BetaSchedule.ScaledLinear,
        PredictionType = PredictionType.Epsilon,
        ClipSample = false,
        SetAlphaToOne = false,
        StepsOffset = 1,
        TimestepSpacing = Schedulers.TimestepSpacing.Leading,
    };
}
