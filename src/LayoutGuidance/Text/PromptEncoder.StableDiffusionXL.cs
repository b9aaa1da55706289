using LayoutGuidance.Models.Clip;
using TorchSharp;
using static TorchSharp.torch;

namespace LayoutGuidance.Text;

/// <summary>
/// SDXL: <c>prompt_embeds</c> concatenates both encoders' penultimate hidden states (hidden_states[-2],
/// no final_layer_norm) along the feature axis; <c>pooled_prompt_embeds</c> is text_encoder_2's
/// <c>text_embeds</c>. With <c>force_zeros_for_empty_prompt</c> (the SDXL base config) a missing
/// negative prompt gives zeros for both.
/// </summary>
public sealed class StableDiffusionXLPromptEncoder(CLIPTextModel textEncoder, CLIPTextModelWithProjection textEncoder2, bool forceZerosForEmptyPrompt)
    : PromptEncoder
{
    public CLIPTextModel TextEncoder { get; } = textEncoder;
    public CLIPTextModelWithProjection TextEncoder2 { get; } = textEncoder2;

    public override bool ZerosForMissingNegativePrompt { get; } = forceZerosForEmptyPrompt;

    public override PromptEmbeddings Encode(PromptTokenIds ids)
    {
        var ids2 = ids.InputIds2 ?? throw new ArgumentException("SDXL needs InputIds2, the token ids from tokenizer_2", nameof(ids));
        if (ids2.shape[0] != ids.InputIds.shape[0])
            throw new ArgumentException($"InputIds has batch {ids.InputIds.shape[0]}, InputIds2 has batch {ids2.shape[0]}", nameof(ids));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var first = TextEncoder.call(ids.InputIds);
        var second = TextEncoder2.call(ids2);
        var embeds = cat([first.HiddenStates[^2], second.HiddenStates[^2]], -1);
        return new PromptEmbeddings(embeds.MoveToOuterDisposeScope(), second.TextEmbeds!.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// SDXL's micro-conditioning <c>add_time_ids</c> [1, 6]: original_size + crops_coords_top_left +
    /// target_size, each (height, width) / (top, left) in pixels.
    /// </summary>
    public static Tensor AddTimeIds((int Height, int Width) originalSize, (int Top, int Left) cropsCoordsTopLeft, (int Height, int Width) targetSize,
                                    ScalarType dtype = ScalarType.Float32, Device? device = null) =>
        tensor(new float[]
        {
            originalSize.Height, originalSize.Width, cropsCoordsTopLeft.Top, cropsCoordsTopLeft.Left, targetSize.Height, targetSize.Width,
        }, [1, 6], dtype: dtype, device: device);
}
