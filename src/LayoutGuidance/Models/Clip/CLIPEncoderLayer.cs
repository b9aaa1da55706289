using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LayoutGuidance.Models.Clip;

/// <summary>Pre-norm transformer block: x + attn(LN1(x)), then + mlp(LN2(·)).</summary>
internal sealed class CLIPEncoderLayer : nn.Module<Tensor, Tensor>
{
    readonly CLIPAttention self_attn;
    readonly LayerNorm layer_norm1;
    readonly CLIPMLP mlp;
    readonly LayerNorm layer_norm2;

    public CLIPEncoderLayer(CLIPTextConfig config) : base(nameof(CLIPEncoderLayer))
    {
        self_attn = new CLIPAttention(config);
        layer_norm1 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        mlp = new CLIPMLP(config);
        layer_norm2 = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden_states)
    {
        using var scope = NewDisposeScope();
        var attended = hidden_states + self_attn.call(layer_norm1.call(hidden_states));
        return (attended + mlp.call(layer_norm2.call(attended))).MoveToOuterDisposeScope();
    }
}
