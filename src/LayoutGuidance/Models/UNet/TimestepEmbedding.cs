using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.UNet;

/// <summary>Two linear layers with SiLU between: keys linear_1, linear_2 (time_embedding, add_embedding).</summary>
public sealed class TimestepEmbedding : Module<Tensor, Tensor>
{
    readonly Linear linear_1, linear_2;

    public TimestepEmbedding(long inChannels, long embedDim) : base(nameof(TimestepEmbedding))
    {
        linear_1 = Linear(inChannels, embedDim);
        linear_2 = Linear(embedDim, embedDim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var h = functional.silu(linear_1.call(input));
        return linear_2.call(h);
    }

    /// <summary>
    /// diffusers' get_timestep_embedding: sinusoids of the (possibly fractional) timesteps, always
    /// computed in float32 whatever the model dtype.
    /// </summary>
    public static Tensor Sinusoidal(Tensor timesteps, long dim, bool flipSinToCos, double freqShift, double maxPeriod = 10000)
    {
        using var scope = NewDisposeScope();
        var half = dim / 2;
        var exponent = arange(0, half, dtype: ScalarType.Float32, device: timesteps.device) * (-Math.Log(maxPeriod) / (half - freqShift));
        var angles = timesteps.to(ScalarType.Float32).unsqueeze(1) * exponent.exp().unsqueeze(0);
        var emb = flipSinToCos ? cat([angles.cos(), angles.sin()], -1) : cat([angles.sin(), angles.cos()], -1);
        if (dim % 2 == 1) emb = functional.pad(emb, [0, 1, 0, 0]);
        return emb.MoveToOuterDisposeScope();
    }
}
