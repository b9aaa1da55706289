using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

/// <summary>
/// DDIM (Song et al. 2021) with η = 0, i.e. the deterministic sampler diffusers' pipelines run by default.
/// </summary>
public sealed class DdimScheduler : Scheduler
{
    readonly float finalAlphaCumprod;

    public DdimScheduler(SchedulerConfig config) : base(config)
    {
        if (config.Thresholding)
            throw new SchedulerConfigException("DDIMScheduler: thresholding=true (dynamic thresholding) is not supported; set it to false");
        if (config.RescaleBetasZeroSnr)
            throw new SchedulerConfigException("DDIMScheduler: rescale_betas_zero_snr=true is not supported; set it to false");
        finalAlphaCumprod = config.SetAlphaToOne ?? true ? 1f : TrainingAlphasCumprod[0];
    }

    public override string ClassName => "DDIMScheduler";
    protected override TimestepSpacing DefaultSpacing => TimestepSpacing.Leading;
    protected override bool TimestepsAreIntegers => true;

    protected override double[] MakeTimesteps(int steps) =>
        TimestepSchedule.Spaced(Spacing, Config.NumTrainTimesteps, steps, Config.StepsOffset, roundLinspace: true);

    public override SchedulerStepOutput Step(Tensor modelOutput, int stepIndex, Tensor sample)
    {
        CheckStepIndex(stepIndex);
        using var scope = NewDisposeScope();
        var timestep = (int)Timestep(stepIndex);
        // diffusers steps back by num_train_timesteps // num_inference_steps whatever the spacing.
        var previous = timestep - Config.NumTrainTimesteps / NumInferenceSteps;
        var alphaProd = AlphaCumprod(timestep);
        var alphaProdPrev = previous >= 0 ? AlphaCumprod(previous) : finalAlphaCumprod;
        double alpha = MathF.Sqrt(alphaProd), sigma = MathF.Sqrt(1f - alphaProd);

        var predOriginal = PredictOriginal(Config.PredictionType, modelOutput, sample, alpha, sigma);
        var predEpsilon = Config.PredictionType switch
        {
            PredictionType.Epsilon => modelOutput,
            PredictionType.Sample => (sample - alpha * predOriginal) / sigma,
            _ => alpha * modelOutput + sigma * sample,
        };
        if (Config.ClipSample ?? true)
            predOriginal = predOriginal.clamp(-Config.ClipSampleRange, Config.ClipSampleRange);

        var prev = MathF.Sqrt(alphaProdPrev) * predOriginal + MathF.Sqrt(1f - alphaProdPrev) * predEpsilon;
        return new SchedulerStepOutput(prev.MoveToOuterDisposeScope(), predOriginal.MoveToOuterDisposeScope());
    }
}
