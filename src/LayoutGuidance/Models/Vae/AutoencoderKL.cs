using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.Vae;

/// <summary>The latent distribution an image encodes to (diffusers' DiagonalGaussianDistribution).</summary>
public sealed record LatentDistribution(Tensor Mean, Tensor LogVar, Tensor Std) : IDisposable
{
    public void Dispose()
    {
        Mean.Dispose();
        LogVar.Dispose();
        Std.Dispose();
    }
}

/// <summary>diffusers' AutoencoderKL: keys encoder.*, quant_conv, post_quant_conv, decoder.*.</summary>
public sealed class AutoencoderKL : Module
{
    readonly VaeEncoder encoder;
    readonly VaeDecoder decoder;
    readonly Conv2d quant_conv, post_quant_conv;

    public AutoencoderKLConfig Config { get; }
    public double ScalingFactor => Config.ScalingFactor;

    public AutoencoderKL(AutoencoderKLConfig config) : base(nameof(AutoencoderKL))
    {
        config.Validate();
        Config = config;
        encoder = new VaeEncoder(config);
        decoder = new VaeDecoder(config);
        quant_conv = Conv2d(2 * config.LatentChannels, 2 * config.LatentChannels, 1);
        post_quant_conv = Conv2d(config.LatentChannels, config.LatentChannels, 1);
        RegisterComponents();
    }

    /// <summary>Image in [-1, 1] → latent distribution (unscaled: multiply a sample by <see cref="ScalingFactor"/>).</summary>
    public LatentDistribution Encode(Tensor image)
    {
        using var scope = NewDisposeScope();
        var moments = quant_conv.call(encoder.call(image)).chunk(2, 1);
        var logvar = moments[1].clamp(-30.0, 20.0);
        var std = (logvar * 0.5).exp();
        return new LatentDistribution(moments[0].MoveToOuterDisposeScope(), logvar.MoveToOuterDisposeScope(), std.MoveToOuterDisposeScope());
    }

    /// <summary>Decoder input (latents already divided by <see cref="ScalingFactor"/>) → image in about [-1, 1], in the VAE's dtype.</summary>
    public Tensor Decode(Tensor decoderInput)
    {
        using var scope = NewDisposeScope();
        var dtype = post_quant_conv.weight!.dtype;
        return decoder.call(post_quant_conv.call(decoderInput.to(dtype))).MoveToOuterDisposeScope();
    }
}
