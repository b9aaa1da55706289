using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

/// <summary>Euler's method in σ (Karras et al. 2022, algorithm 2 without churn): x_{i+1} = x_i + (σ_{i+1} − σ_i)·(x_i − x_0)/σ_i.</summary>
public sealed class EulerDiscreteScheduler : SigmaScheduler
{
    public EulerDiscreteScheduler(SchedulerConfig config) : base(config)
    {
        if (config.UseKarrasSigmas)
            throw new SchedulerConfigException("EulerDiscreteScheduler: use_karras_sigmas=true is not supported; set it to false");
        if (config.InterpolationType != "linear")
            throw new SchedulerConfigException(
                $"EulerDiscreteScheduler: interpolation_type '{config.InterpolationType}' is not supported; use \"linear\"");
    }

    public override string ClassName => "EulerDiscreteScheduler";

    public override SchedulerStepOutput Step(Tensor modelOutput, int stepIndex, Tensor sample)
    {
        CheckStepIndex(stepIndex);
        using var scope = NewDisposeScope();
        var sigma = Sigma(stepIndex);
        var predOriginal = PredictOriginal(Config.PredictionType, modelOutput, sample, sigma);
        var derivative = (sample - predOriginal) / sigma;
        var prev = sample + derivative * (NextSigma(stepIndex) - sigma);
        return new SchedulerStepOutput(prev.MoveToOuterDisposeScope(), predOriginal.MoveToOuterDisposeScope());
    }
}
