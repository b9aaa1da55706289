using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

/// <summary>
/// The k-diffusion family (LMS, Euler, Euler ancestral): it integrates in σ, with x = x_0 + σ·ε, so the
/// denoiser sees x / √(σ² + 1). Timesteps stay fractional (float32) and σ is interpolated between training
/// timesteps; a run has σ_0 … σ_{N−1} and a final σ_N = 0.
/// </summary>
public abstract class SigmaScheduler : Scheduler
{
    readonly float[] trainingSigmas;
    float[]? sigmas;
    Tensor? sigmasTensor;

    protected SigmaScheduler(SchedulerConfig config) : base(config)
    {
        trainingSigmas = TrainingAlphasCumprod.Select(NoiseSchedule.Sigma).ToArray();
    }

    /// <summary>σ of every step of the run and the final 0: float32 [StepCount + 1], owned by the scheduler.</summary>
    public Tensor Sigmas => sigmasTensor ?? throw new InvalidOperationException($"{ClassName}: call SetTimesteps first");

    protected override bool TimestepsAreIntegers => false;
    protected override TimestepSpacing DefaultSpacing => TimestepSpacing.Linspace;

    protected override double[] MakeTimesteps(int steps) =>
        TimestepSchedule.Spaced(Spacing, Config.NumTrainTimesteps, steps, Config.StepsOffset, roundLinspace: false);

    protected override void StartRun()
    {
        var count = StepCount;
        sigmas = new float[count + 1];
        for (var i = 0; i < count; i++) sigmas[i] = (float)TimestepSchedule.Interp(Timestep(i), trainingSigmas);
        sigmasTensor?.Dispose();
        sigmasTensor = tensor(sigmas, dtype: ScalarType.Float32).DetachFromDisposeScope();
    }

    /// <summary>
    /// Linspace and trailing runs start at the last training timestep and use σ_max; leading runs start
    /// lower and use √(σ_max² + 1) (diffusers' choice, kept for parity).
    /// </summary>
    public override double InitNoiseSigma
    {
        get
        {
            var max = (sigmas ?? throw new InvalidOperationException($"{ClassName}: call SetTimesteps first")).Max();
            return Spacing is TimestepSpacing.Linspace or TimestepSpacing.Trailing ? max : MathF.Sqrt(max * max + 1f);
        }
    }

    public override double Sigma(int stepIndex)
    {
        CheckStepIndex(stepIndex);
        return sigmas![stepIndex];
    }

    /// <summary>The samples are x_0 + σ·ε, so their noise has standard deviation σ.</summary>
    public override double SampleNoiseStd(int stepIndex) => Sigma(stepIndex);

    /// <summary>σ after step <paramref name="stepIndex"/> (0 after the last).</summary>
    protected double NextSigma(int stepIndex) => sigmas![stepIndex + 1];

    /// <summary>The run's σ_0 … σ_N as float32 values.</summary>
    protected IReadOnlyList<float> RunSigmas => sigmas!;

    /// <summary>x / √(σ² + 1): one differentiable division.</summary>
    public override Tensor ScaleModelInput(Tensor sample, int stepIndex)
    {
        var sigma = (float)Sigma(stepIndex);
        return sample / MathF.Sqrt(sigma * sigma + 1f);
    }

    /// <summary>x_0 predicted in the variance-exploding form x = x_0 + σ·ε. The caller disposes.</summary>
    protected static Tensor PredictOriginal(PredictionType type, Tensor modelOutput, Tensor sample, double sigma) => type switch
    {
        PredictionType.Epsilon => sample - sigma * modelOutput,
        PredictionType.Sample => modelOutput.alias(),
        PredictionType.VPrediction => modelOutput * (-sigma / Math.Sqrt(sigma * sigma + 1)) + sample / (sigma * sigma + 1),
        _ => throw new SchedulerConfigException($"prediction_type {type} is not supported"),
    };

    protected override void Dispose(bool disposing)
    {
        if (disposing) sigmasTensor?.Dispose();
        base.Dispose(disposing);
    }
}
