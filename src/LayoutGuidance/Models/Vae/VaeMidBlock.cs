using LayoutGuidance.Models.Blocks;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.Vae;

/// <summary>UNetMidBlock2D of the VAE: resnet, single-head spatial self-attention with a residual, resnet.</summary>
public sealed class VaeMidBlock : Module<Tensor, Tensor>
{
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Attention.Attention> attentions;

    public VaeMidBlock(string path, long channels, long groups) : base(nameof(VaeMidBlock))
    {
        resnets = new ModuleList<ResnetBlock2D>(
            new ResnetBlock2D(channels, channels, null, groups, 1e-6), new ResnetBlock2D(channels, channels, null, groups, 1e-6));
        attentions = new ModuleList<Attention.Attention>(
            new Attention.Attention($"{path}.attentions.0", channels, null, heads: 1, headDim: channels, bias: true, normGroups: groups, normEps: 1e-6));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = resnets[0].forward(input, null);
        var (b, c, height, width) = (h.shape[0], h.shape[1], h.shape[2], h.shape[3]);
        var tokens = h.view(b, c, height * width).transpose(1, 2);
        var attended = attentions[0].forward(tokens).transpose(1, 2).reshape(b, c, height, width);
        return resnets[1].forward(attended + h, null).MoveToOuterDisposeScope();
    }
}
