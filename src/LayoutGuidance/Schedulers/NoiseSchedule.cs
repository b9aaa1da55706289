using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

/// <summary>
/// The training noise schedule: betas, ᾱ (alphas_cumprod) and the k-diffusion sigma table, computed in
/// float32 with the same torch operations diffusers uses, so the tables agree to the last bit or two.
/// </summary>
public static class NoiseSchedule
{
    /// <summary>float32 [num_train_timesteps].</summary>
    public static Tensor Betas(SchedulerConfig config)
    {
        var count = config.NumTrainTimesteps;
        if (config.TrainedBetas is { } trained)
        {
            if (trained.Length != count)
                throw new SchedulerConfigException(
                    $"trained_betas has {trained.Length} values but num_train_timesteps is {count}; they must agree");
            return tensor(trained, dtype: ScalarType.Float32);
        }
        return config.BetaSchedule switch
        {
            BetaSchedule.Linear => linspace(config.BetaStart, config.BetaEnd, count, dtype: ScalarType.Float32),
            BetaSchedule.ScaledLinear => ScaledLinear(config.BetaStart, config.BetaEnd, count),
            BetaSchedule.SquaredcosCapV2 => tensor(CosineBetas(count), dtype: ScalarType.Float32),
            var other => throw new SchedulerConfigException($"beta_schedule {other} is not supported"),
        };
    }

    /// <summary>ᾱ_t = Π_{s≤t} (1 − β_s), float32 like the betas.</summary>
    public static Tensor AlphasCumprod(Tensor betas)
    {
        using var scope = NewDisposeScope();
        return cumprod(1.0 - betas, 0).MoveToOuterDisposeScope();
    }

    /// <summary>σ_t = √((1 − ᾱ_t)/ᾱ_t), the noise level of timestep t in k-diffusion's x = x_0 + σ·ε form (float32 arithmetic, as diffusers).</summary>
    public static float Sigma(float alphaCumprod) => MathF.Sqrt((1f - alphaCumprod) / alphaCumprod);

    // Latent diffusion's schedule: linear in √β.
    static Tensor ScaledLinear(double start, double end, int count)
    {
        using var scope = NewDisposeScope();
        return linspace(Math.Sqrt(start), Math.Sqrt(end), count, dtype: ScalarType.Float32).pow(2).MoveToOuterDisposeScope();
    }

    // GLIDE's cosine schedule (diffusers' betas_for_alpha_bar): β_i = 1 − ᾱ(t_{i+1})/ᾱ(t_i), capped at 0.999.
    static double[] CosineBetas(int count)
    {
        static double AlphaBar(double t) => Math.Pow(Math.Cos((t + 0.008) / 1.008 * Math.PI / 2), 2);
        var betas = new double[count];
        for (var i = 0; i < count; i++)
            betas[i] = Math.Min(1 - AlphaBar((i + 1) / (double)count) / AlphaBar(i / (double)count), 0.999);
        return betas;
    }
}
