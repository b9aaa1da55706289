using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

/// <summary>
/// A diffusers noise scheduler, driven by step index: <see cref="SetTimesteps"/> starts a run, then for
/// i = 0 … <see cref="StepCount"/> − 1 the caller feeds the denoiser <see cref="ScaleModelInput"/>(x_i, i)
/// at timestep <see cref="Timesteps"/>[i] and advances with <see cref="Step"/>. Multistep schedulers keep
/// a bounded history, so their steps must come in order; <see cref="SetTimesteps"/> clears it.
/// </summary>
public abstract partial class Scheduler : IDisposable
{
    readonly float[] alphasCumprod;
    double[]? timestepValues;
    Tensor? timesteps;

    protected Scheduler(SchedulerConfig config)
    {
        if (config.NumTrainTimesteps < 1)
            throw new SchedulerConfigException($"num_train_timesteps must be positive, got {config.NumTrainTimesteps}");
        Config = config;
        // The scheduler outlives whatever dispose scope it is built in.
        Betas = NoiseSchedule.Betas(config).DetachFromDisposeScope();
        AlphasCumprod = NoiseSchedule.AlphasCumprod(Betas).DetachFromDisposeScope();
        alphasCumprod = AlphasCumprod.data<float>().ToArray();
    }

    public SchedulerConfig Config { get; }

    /// <summary>The diffusers class this scheduler reproduces, e.g. "LMSDiscreteScheduler".</summary>
    public abstract string ClassName { get; }

    /// <summary>Training betas, float32 [num_train_timesteps].</summary>
    public Tensor Betas { get; }

    /// <summary>Training ᾱ, float32 [num_train_timesteps].</summary>
    public Tensor AlphasCumprod { get; }

    /// <summary>The timesteps of this run, one per step: float32 for LMS/Euler/Euler-ancestral, int64 for the others. Owned by the scheduler.</summary>
    public Tensor Timesteps => timesteps ?? throw NotStarted();

    /// <summary>Steps in this run; PNDM (PLMS) has one more than asked for, DPM-Solver may drop duplicates.</summary>
    public int StepCount => (timestepValues ?? throw NotStarted()).Length;

    /// <summary>The steps asked for in <see cref="SetTimesteps"/>.</summary>
    public int NumInferenceSteps { get; private set; }

    /// <summary>Standard deviation of the initial noise: x_0 = randn · InitNoiseSigma.</summary>
    public virtual double InitNoiseSigma => 1.0;

    /// <summary>Starts a fresh run of <paramref name="steps"/> inference steps (history cleared).</summary>
    public void SetTimesteps(int steps)
    {
        if (steps < 1 || steps > Config.NumTrainTimesteps)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"between 1 and num_train_timesteps ({Config.NumTrainTimesteps})");
        var values = MakeTimesteps(steps);
        timesteps?.Dispose();
        timesteps = (TimestepsAreIntegers
            ? tensor(values.Select(v => (long)v).ToArray(), dtype: ScalarType.Int64)
            : tensor(values.Select(v => (float)v).ToArray(), dtype: ScalarType.Float32)).DetachFromDisposeScope();
        timestepValues = values;
        NumInferenceSteps = steps;
        StartRun();
    }

    /// <summary>
    /// The denoiser's input at step <paramref name="stepIndex"/>. Differentiable in <paramref name="sample"/>
    /// (a new tensor handle even where the scaling is the identity); the caller owns the result.
    /// </summary>
    public virtual Tensor ScaleModelInput(Tensor sample, int stepIndex)
    {
        CheckStepIndex(stepIndex);
        return sample.alias();
    }

    /// <summary>x_{i+1} from the denoiser's output at step <paramref name="stepIndex"/> and x_i.</summary>
    public abstract SchedulerStepOutput Step(Tensor modelOutput, int stepIndex, Tensor sample);

    /// <summary>
    /// The k-diffusion noise level σ of step <paramref name="stepIndex"/> (x = x_0 + σ·ε), for every class:
    /// √((1 − ᾱ_t)/ᾱ_t) at the step's timestep for the discrete-time ones.
    /// </summary>
    public virtual double Sigma(int stepIndex)
    {
        CheckStepIndex(stepIndex);
        return NoiseSchedule.Sigma(AlphaCumprod((int)Timestep(stepIndex)));
    }

    /// <summary>
    /// Standard deviation of the noise in the samples as this scheduler holds them at step
    /// <paramref name="stepIndex"/>: √(1 − ᾱ_t) = σ/√(σ² + 1) for the variance-preserving samples of DDIM,
    /// PNDM and DPM-Solver (x = √ᾱ·x_0 + √(1 − ᾱ)·ε); σ itself for the σ-space schedulers (LMS, Euler).
    /// Layout guidance's z ← z − η·s²·∇_z E with this s moves every scheduler's samples as the original's
    /// z ← z − η·σ²·∇_z E moves the LMS scheduler's, so η means the same whichever scheduler runs.
    /// </summary>
    public virtual double SampleNoiseStd(int stepIndex)
    {
        var sigma = Sigma(stepIndex);
        return sigma / Math.Sqrt(sigma * sigma + 1);
    }

    /// <summary>Class default: leading for DDIM and PNDM, linspace for the others.</summary>
    protected abstract TimestepSpacing DefaultSpacing { get; }

    protected TimestepSpacing Spacing => Config.TimestepSpacing ?? DefaultSpacing;

    protected abstract bool TimestepsAreIntegers { get; }

    /// <summary>The run's timesteps in double, as diffusers computes them.</summary>
    protected abstract double[] MakeTimesteps(int steps);

    /// <summary>Called after the timesteps are set: derive per-run tables, clear history.</summary>
    protected virtual void StartRun() { }

    protected double Timestep(int stepIndex) => timestepValues![stepIndex];

    /// <summary>ᾱ at an integer training timestep.</summary>
    protected float AlphaCumprod(int timestep)
    {
        if (timestep < 0 || timestep >= alphasCumprod.Length)
            throw new InvalidOperationException(
                $"{ClassName}: timestep {timestep} is outside the {alphasCumprod.Length} training timesteps; lower steps_offset");
        return alphasCumprod[timestep];
    }

    protected IReadOnlyList<float> TrainingAlphasCumprod => alphasCumprod;

    /// <summary>
    /// x_0 predicted in the variance-preserving form x_t = α·x_0 + σ·ε with α = √ᾱ, σ = √(1 − ᾱ)
    /// (DDIM, DPM-Solver). The caller disposes.
    /// </summary>
    protected static Tensor PredictOriginal(PredictionType type, Tensor modelOutput, Tensor sample, double alpha, double sigma) => type switch
    {
        PredictionType.Epsilon => (sample - sigma * modelOutput) / alpha,
        PredictionType.Sample => modelOutput.alias(),
        PredictionType.VPrediction => alpha * sample - sigma * modelOutput,
        _ => throw new SchedulerConfigException($"prediction_type {type} is not supported"),
    };

    protected void CheckStepIndex(int stepIndex)
    {
        var count = StepCount;
        if (stepIndex < 0 || stepIndex >= count)
            throw new ArgumentOutOfRangeException(nameof(stepIndex), stepIndex, $"{ClassName} has {count} steps in this run");
    }

    /// <summary>For multistep methods, whose history must be built in order.</summary>
    protected void CheckInOrder(int stepIndex, int expected)
    {
        if (stepIndex != expected)
            throw new InvalidOperationException(
                $"{ClassName} is a multistep method: steps must run in order; expected step {expected}, got {stepIndex} (SetTimesteps starts a new run)");
    }

    Exception NotStarted() => new InvalidOperationException($"{ClassName}: call SetTimesteps first");

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (!disposing) return;
        Betas.Dispose();
        AlphasCumprod.Dispose();
        timesteps?.Dispose();
    }
}
