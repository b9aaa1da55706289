using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

/// <summary>
/// Ancestral Euler (k-diffusion's sample_euler_ancestral, η = 1): an Euler step down to σ_down, then fresh
/// noise of standard deviation σ_up, with σ_down² + σ_up² = σ_{i+1}².
/// </summary>
public sealed class EulerAncestralDiscreteScheduler : SigmaScheduler
{
    readonly StepNoise noise;

    /// <param name="noise">Where the step's noise comes from; null draws torch.randn from the global generator, as diffusers does without a generator.</param>
    public EulerAncestralDiscreteScheduler(SchedulerConfig config, StepNoise? noise = null) : base(config)
    {
        if (config.PredictionType == PredictionType.Sample)
            throw new SchedulerConfigException(
                "EulerAncestralDiscreteScheduler: prediction_type sample is not supported (diffusers 0.21 supports epsilon and v_prediction)");
        this.noise = noise ?? GeneratorNoise(null);
    }

    public override string ClassName => "EulerAncestralDiscreteScheduler";

    /// <summary>
    /// diffusers' randn_tensor: one torch.randn of the sample's shape per step from <paramref name="generator"/>,
    /// drawn on the generator's device and moved to the sample's, so a seed reproduces a PyTorch run.
    /// </summary>
    public static StepNoise GeneratorNoise(Generator? generator) => (_, like) =>
    {
        if (generator is null) return randn(like.shape, like.dtype, like.device);
        using var drawn = randn(like.shape, like.dtype, generator.device, generator: generator);
        return drawn.to(like.device);
    };

    public override SchedulerStepOutput Step(Tensor modelOutput, int stepIndex, Tensor sample)
    {
        CheckStepIndex(stepIndex);
        using var scope = NewDisposeScope();
        var sigma = Sigma(stepIndex);
        var sigmaNext = NextSigma(stepIndex);
        var predOriginal = PredictOriginal(Config.PredictionType, modelOutput, sample, sigma);
        var sigmaUp = Math.Sqrt(sigmaNext * sigmaNext * (sigma * sigma - sigmaNext * sigmaNext) / (sigma * sigma));
        var sigmaDown = Math.Sqrt(sigmaNext * sigmaNext - sigmaUp * sigmaUp);
        var derivative = (sample - predOriginal) / sigma;
        var prev = sample + derivative * (sigmaDown - sigma);
        // Drawn at every step, the last (σ_up = 0) included, so the generator advances as in diffusers.
        using var stepNoise = noise(stepIndex, modelOutput);
        prev = prev + stepNoise * sigmaUp;
        return new SchedulerStepOutput(prev.MoveToOuterDisposeScope(), predOriginal.MoveToOuterDisposeScope());
    }
}
