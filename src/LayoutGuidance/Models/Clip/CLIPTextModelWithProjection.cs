using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LayoutGuidance.Models.Clip;

/// <summary>
/// transformers' <c>CLIPTextModelWithProjection</c> (SDXL's OpenCLIP-bigG <c>text_encoder_2</c>):
/// <see cref="CLIPTextModel"/> plus <c>text_projection</c> (no bias), whose output is
/// <see cref="CLIPTextOutput.TextEmbeds"/>.
/// </summary>
public sealed class CLIPTextModelWithProjection : nn.Module<Tensor, CLIPTextOutput>
{
    readonly CLIPTextTransformer text_model;
    readonly Linear text_projection;

    /// <exception cref="LayoutGuidance.Weights.ConfigException">The config cannot be run (see <see cref="CLIPTextConfig.Validate"/>).</exception>
    public CLIPTextModelWithProjection(CLIPTextConfig config) : base(nameof(CLIPTextModelWithProjection))
    {
        config.Validate();
        Config = config;
        text_model = new CLIPTextTransformer(config);
        text_projection = nn.Linear(config.HiddenSize, config.ProjectionDim, hasBias: false);
        RegisterComponents();
    }

    public CLIPTextConfig Config { get; }

    /// <param name="input_ids">int64 [batch, tokens ≤ max_position_embeddings].</param>
    public override CLIPTextOutput forward(Tensor input_ids)
    {
        var output = text_model.call(input_ids);
        return output.WithTextEmbeds(text_projection.call(output.PoolerOutput));
    }
}
