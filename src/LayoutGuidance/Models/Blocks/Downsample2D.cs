using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.Blocks;

/// <summary>Strided 3×3 convolution. The VAE uses padding 0 with an asymmetric (0,1,0,1) pad, as diffusers does.</summary>
public sealed class Downsample2D : Module<Tensor, Tensor>
{
    readonly Conv2d conv;
    readonly long padding;

    public Downsample2D(long channels, long outChannels, long padding) : base(nameof(Downsample2D))
    {
        conv = Conv2d(channels, outChannels, 3, stride: 2, padding: padding);
        this.padding = padding;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        if (padding != 0) return conv.call(input);
        using var padded = functional.pad(input, [0, 1, 0, 1], TorchSharp.PaddingModes.Constant, 0);
        return conv.call(padded);
    }
}
