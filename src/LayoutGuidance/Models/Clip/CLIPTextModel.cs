using TorchSharp;
using static TorchSharp.torch;

namespace LayoutGuidance.Models.Clip;

/// <summary>
/// transformers' <c>CLIPTextModel</c> (SD1.x CLIP-L, SD2.x OpenCLIP-H, SDXL's first encoder). Parameter
/// names equal the checkpoint keys (<c>text_model.encoder.layers.0.self_attn.q_proj.weight</c>, …);
/// a checkpoint's <c>text_model.embeddings.position_ids</c> is not a weight and has no counterpart here.
/// Modules are created on the default device, so building under a meta default device allocates nothing.
/// </summary>
public sealed class CLIPTextModel : nn.Module<Tensor, CLIPTextOutput>
{
    readonly CLIPTextTransformer text_model;

    /// <exception cref="LayoutGuidance.Weights.ConfigException">The config cannot be run (see <see cref="CLIPTextConfig.Validate"/>).</exception>
    public CLIPTextModel(CLIPTextConfig config) : base(nameof(CLIPTextModel))
    {
        config.Validate();
        Config = config;
        text_model = new CLIPTextTransformer(config);
        RegisterComponents();
    }

    public CLIPTextConfig Config { get; }

    /// <param name="input_ids">int64 [batch, tokens ≤ max_position_embeddings].</param>
    public override CLIPTextOutput forward(Tensor input_ids) => text_model.call(input_ids);
}
