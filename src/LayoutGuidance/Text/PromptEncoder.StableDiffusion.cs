using LayoutGuidance.Models.Clip;
using TorchSharp;

namespace LayoutGuidance.Text;

/// <summary>
/// SD1.x and SD2.x: <c>prompt_embeds</c> is the text encoder's last hidden state (after final_layer_norm);
/// a missing negative prompt is the embedded "". SD2.x's shallower OpenCLIP-H comes from its config.
/// </summary>
public sealed class StableDiffusionPromptEncoder(CLIPTextModel textEncoder) : PromptEncoder
{
    public CLIPTextModel TextEncoder { get; } = textEncoder;

    public override bool ZerosForMissingNegativePrompt => false;

    public override PromptEmbeddings Encode(PromptTokenIds ids)
    {
        if (ids.InputIds2 is not null)
            throw new ArgumentException("Stable Diffusion has one tokenizer; InputIds2 is for SDXL's tokenizer_2", nameof(ids));
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var output = TextEncoder.call(ids.InputIds);
        return new PromptEmbeddings(output.LastHiddenState.MoveToOuterDisposeScope(), null);
    }
}
