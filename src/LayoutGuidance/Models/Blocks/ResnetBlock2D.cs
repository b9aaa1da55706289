using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.Blocks;

/// <summary>diffusers' ResnetBlock2D (default time-scale-shift, SiLU), with or without a time embedding.</summary>
public sealed class ResnetBlock2D : Module
{
    readonly GroupNorm norm1, norm2;
    readonly Conv2d conv1, conv2;
    readonly Linear? time_emb_proj;
    readonly Conv2d? conv_shortcut;
    readonly double outputScaleFactor;

    public ResnetBlock2D(long inChannels, long outChannels, long? tembChannels, long groups, double eps, double outputScaleFactor = 1.0)
        : base(nameof(ResnetBlock2D))
    {
        norm1 = GroupNorm(groups, inChannels, eps, affine: true);
        conv1 = Conv2d(inChannels, outChannels, 3, padding: 1);
        if (tembChannels is long t) time_emb_proj = Linear(t, outChannels);
        norm2 = GroupNorm(groups, outChannels, eps, affine: true);
        conv2 = Conv2d(outChannels, outChannels, 3, padding: 1);
        if (inChannels != outChannels) conv_shortcut = Conv2d(inChannels, outChannels, 1);
        this.outputScaleFactor = outputScaleFactor;
        RegisterComponents();
    }

    public Tensor forward(Tensor input, Tensor? temb)
    {
        using var scope = NewDisposeScope();
        var h = conv1.call(functional.silu(norm1.call(input)));
        if (temb is not null && time_emb_proj is not null)
            h = h + time_emb_proj.call(functional.silu(temb))[.., .., TensorIndex.None, TensorIndex.None];
        h = conv2.call(functional.silu(norm2.call(h)));
        var shortcut = conv_shortcut is null ? input : conv_shortcut.call(input);
        var output = shortcut + h;
        if (outputScaleFactor != 1.0) output = output / outputScaleFactor;
        return output.MoveToOuterDisposeScope();
    }
}
