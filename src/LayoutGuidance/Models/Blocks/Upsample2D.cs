using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.Blocks;

/// <summary>Nearest-neighbour ×2 (or to an explicit size, for odd latents) followed by a 3×3 convolution.</summary>
public sealed class Upsample2D : Module
{
    readonly Conv2d conv;

    public Upsample2D(long channels, long outChannels) : base(nameof(Upsample2D))
    {
        conv = Conv2d(channels, outChannels, 3, padding: 1);
        RegisterComponents();
    }

    public Tensor forward(Tensor input, long[]? outputSize = null)
    {
        using var scope = NewDisposeScope();
        // Nearest upsampling has no bfloat16 kernel in some libtorch builds; diffusers upcasts too.
        var x = input.dtype == ScalarType.BFloat16 ? input.to(ScalarType.Float32) : input;
        x = outputSize is null
            ? functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest)
            : functional.interpolate(x, size: outputSize, mode: InterpolationMode.Nearest);
        if (x.dtype != input.dtype) x = x.to(input.dtype);
        return conv.call(x).MoveToOuterDisposeScope();
    }
}
