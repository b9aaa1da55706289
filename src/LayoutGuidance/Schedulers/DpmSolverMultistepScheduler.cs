using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

/// <summary>
/// DPM-Solver++ multistep (Lu et al. 2022), the "DPM++ 2M" sampler: it integrates the data-prediction ODE in
/// λ = log(α/σ), extrapolating from the last <c>solver_order</c> x_0 predictions. With lower_order_final,
/// runs shorter than 15 steps finish with first-order steps, which keeps them stable.
/// </summary>
public sealed class DpmSolverMultistepScheduler : Scheduler
{
    readonly TensorHistory predictions;
    int lowerOrderCount;
    int nextStep;

    public DpmSolverMultistepScheduler(SchedulerConfig config) : base(config)
    {
        if (config.SolverOrder is not (1 or 2))
            throw new SchedulerConfigException($"DPMSolverMultistepScheduler: solver_order {config.SolverOrder} is not supported; use 1 or 2");
        if (config.AlgorithmType != "dpmsolver++")
            throw new SchedulerConfigException(
                $"DPMSolverMultistepScheduler: algorithm_type '{config.AlgorithmType}' is not supported; use \"dpmsolver++\"");
        if (config.SolverType != "midpoint")
            throw new SchedulerConfigException($"DPMSolverMultistepScheduler: solver_type '{config.SolverType}' is not supported; use \"midpoint\"");
        if (config.Thresholding)
            throw new SchedulerConfigException("DPMSolverMultistepScheduler: thresholding=true is not supported; set it to false");
        if (config.UseKarrasSigmas)
            throw new SchedulerConfigException("DPMSolverMultistepScheduler: use_karras_sigmas=true is not supported; set it to false");
        if (config.VarianceType is not null)
            throw new SchedulerConfigException(
                $"DPMSolverMultistepScheduler: variance_type '{config.VarianceType}' (a model that predicts its variance) is not supported; use null");
        predictions = new TensorHistory(config.SolverOrder);
    }

    public override string ClassName => "DPMSolverMultistepScheduler";
    protected override TimestepSpacing DefaultSpacing => TimestepSpacing.Linspace;
    protected override bool TimestepsAreIntegers => true;

    protected override double[] MakeTimesteps(int steps)
    {
        var trainSteps = Config.NumTrainTimesteps;
        // lambda_min_clipped drops the noisiest timesteps, whose λ falls below it (λ decreases with t).
        var clipped = TrainingAlphasCumprod.Count(a => Lambda(a) < Config.LambdaMinClipped);
        var last = trainSteps - clipped;
        double[] timesteps;
        switch (Spacing)
        {
            case TimestepSpacing.Linspace:
                timesteps = TimestepSchedule.Linspace(0, last - 1, steps + 1).Select(t => Math.Round(t)).Reverse().SkipLast(1).ToArray();
                break;
            case TimestepSpacing.Leading:
                var ratio = last / (steps + 1);
                timesteps = Enumerable.Range(0, steps + 1).Reverse().SkipLast(1).Select(i => (double)(i * ratio + Config.StepsOffset)).ToArray();
                break;
            case TimestepSpacing.Trailing:
                timesteps = TimestepSchedule.Arange(last, 0, -(double)trainSteps / steps).Select(t => Math.Round(t) - 1).ToArray();
                break;
            default:
                throw new SchedulerConfigException($"timestep_spacing {Spacing} is not supported; use linspace, leading or trailing");
        }
        // Many steps can round onto the same timestep; diffusers keeps the first of each.
        return timesteps.Distinct().ToArray();
    }

    protected override void StartRun()
    {
        predictions.Clear();
        lowerOrderCount = 0;
        nextStep = 0;
    }

    public override SchedulerStepOutput Step(Tensor modelOutput, int stepIndex, Tensor sample)
    {
        CheckStepIndex(stepIndex);
        CheckInOrder(stepIndex, nextStep);
        using var scope = NewDisposeScope();
        var count = StepCount;
        var timestep = (int)Timestep(stepIndex);
        var previous = stepIndex == count - 1 ? 0 : (int)Timestep(stepIndex + 1);
        var finalFirstOrder = stepIndex == count - 1 && Config.LowerOrderFinal && count < 15;

        var s0 = AlphaCumprod(timestep);
        var predOriginal = PredictOriginal(Config.PredictionType, modelOutput, sample, MathF.Sqrt(s0), MathF.Sqrt(1f - s0));
        predictions.Push(predOriginal);

        var target = AlphaCumprod(previous);
        double alphaT = MathF.Sqrt(target), sigmaT = MathF.Sqrt(1f - target), sigmaS0 = MathF.Sqrt(1f - s0);
        var h = Lambda(target) - Lambda(s0);
        // α_t(e^{−h} − 1) multiplies the x_0 term of both updates.
        var phi = alphaT * (Math.Exp(-h) - 1.0);

        Tensor prev;
        if (Config.SolverOrder == 1 || lowerOrderCount < 1 || finalFirstOrder)
            prev = sigmaT / sigmaS0 * sample - phi * predOriginal;
        else
        {
            var h0 = Lambda(s0) - Lambda(AlphaCumprod((int)Timestep(stepIndex - 1)));
            var r0 = h0 / h;
            var d0 = predictions.FromNewest(0);
            var d1 = (1.0 / r0) * (d0 - predictions.FromNewest(1));
            prev = sigmaT / sigmaS0 * sample - phi * d0 - 0.5 * phi * d1;
        }
        lowerOrderCount = Math.Min(lowerOrderCount + 1, Config.SolverOrder);
        nextStep++;
        return new SchedulerStepOutput(prev.MoveToOuterDisposeScope(), null);
    }

    // λ = log α − log σ, float32 as diffusers' lambda_t table.
    static double Lambda(float alphaCumprod) => MathF.Log(MathF.Sqrt(alphaCumprod)) - MathF.Log(MathF.Sqrt(1f - alphaCumprod));

    protected override void Dispose(bool disposing)
    {
        if (disposing) predictions.Dispose();
        base.Dispose(disposing);
    }
}
