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
        // diffusers upcasts bfloat16 here for old PyTorch builds without a bfloat16 nearest kernel;
        // libtorch 2.10 has one on CPU and CUDA, and nearest only copies values, so the result is
        // the same bit for bit without the two conversions of the largest tensors of the up path.
        var x = outputSize is null
            ? functional.interpolate(input, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest)
            : functional.interpolate(input, size: outputSize, mode: InterpolationMode.Nearest);
        return conv.call(x).MoveToOuterDisposeScope();
    }
}
