using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

/// <summary>
/// PNDM's pseudo linear multistep part, PLMS (Liu et al. 2022), as Stable Diffusion configs run it
/// (skip_prk_steps=true). Its second step re-evaluates the first timestep, so a run has
/// num_inference_steps + 1 timesteps and the sample passed to step 1 is ignored.
/// </summary>
public sealed class PndmScheduler : Scheduler
{
    // PLMS uses up to four past ε's: 55, −59, 37, −9 (/24).
    readonly TensorHistory epsilons = new(4);
    readonly float finalAlphaCumprod;
    Tensor? firstSample;
    int counter;

    public PndmScheduler(SchedulerConfig config) : base(config)
    {
        if (!config.SkipPrkSteps)
            throw new SchedulerConfigException(
                "PNDMScheduler: skip_prk_steps=false (Runge–Kutta warm-up steps) is not supported; set skip_prk_steps to true, as Stable Diffusion configs do");
        if (config.PredictionType == PredictionType.Sample)
            throw new SchedulerConfigException("PNDMScheduler: prediction_type sample is not supported (diffusers supports epsilon and v_prediction)");
        finalAlphaCumprod = config.SetAlphaToOne ?? false ? 1f : TrainingAlphasCumprod[0];
    }

    public override string ClassName => "PNDMScheduler";
    protected override TimestepSpacing DefaultSpacing => TimestepSpacing.Leading;
    protected override bool TimestepsAreIntegers => true;

    protected override double[] MakeTimesteps(int steps)
    {
        var descending = TimestepSchedule.Spaced(Spacing, Config.NumTrainTimesteps, steps, Config.StepsOffset, roundLinspace: true);
        // The second-newest timestep twice: [t_0, t_1, t_1, t_2, …] (diffusers' plms_timesteps).
        return descending.Length < 2 ? descending : [descending[0], descending[1], .. descending[1..]];
    }

    protected override void StartRun()
    {
        epsilons.Clear();
        firstSample?.Dispose();
        firstSample = null;
        counter = 0;
    }

    public override SchedulerStepOutput Step(Tensor modelOutput, int stepIndex, Tensor sample)
    {
        CheckStepIndex(stepIndex);
        CheckInOrder(stepIndex, counter);
        using var scope = NewDisposeScope();
        var stride = Config.NumTrainTimesteps / NumInferenceSteps;
        var timestep = (int)Timestep(stepIndex);
        var previous = timestep - stride;
        if (counter != 1)
            epsilons.Push(modelOutput.clone());
        else
            (timestep, previous) = (timestep + stride, timestep);

        Tensor epsilon;
        if (epsilons.Count == 1 && counter == 0)
        {
            epsilon = modelOutput;
            firstSample = sample.detach().clone().DetachFromDisposeScope();
        }
        else if (epsilons.Count == 1 && counter == 1)
        {
            // Step 1 redoes step 0 from the same sample with the average of both ε's (a Heun-like start).
            epsilon = (modelOutput + epsilons.FromNewest(0)) / 2;
            sample = firstSample!;
        }
        else epsilon = epsilons.Count switch
        {
            2 => (3 * epsilons.FromNewest(0) - epsilons.FromNewest(1)) / 2,
            3 => (23 * epsilons.FromNewest(0) - 16 * epsilons.FromNewest(1) + 5 * epsilons.FromNewest(2)) / 12,
            _ => (1.0 / 24) * (55 * epsilons.FromNewest(0) - 59 * epsilons.FromNewest(1) + 37 * epsilons.FromNewest(2) - 9 * epsilons.FromNewest(3)),
        };

        var prev = PreviousSample(sample, timestep, previous, epsilon);
        if (counter == 1)
        {
            firstSample!.Dispose();
            firstSample = null;
        }
        counter++;
        return new SchedulerStepOutput(prev.MoveToOuterDisposeScope(), null);
    }

    // Formula (9) of the PNDM paper: x_{t−δ} from x_t and ε.
    Tensor PreviousSample(Tensor sample, int timestep, int previous, Tensor epsilon)
    {
        var alphaProd = AlphaCumprod(timestep);
        var alphaProdPrev = previous >= 0 ? AlphaCumprod(previous) : finalAlphaCumprod;
        float betaProd = 1f - alphaProd, betaProdPrev = 1f - alphaProdPrev;
        if (Config.PredictionType == PredictionType.VPrediction)
            epsilon = MathF.Sqrt(alphaProd) * epsilon + MathF.Sqrt(betaProd) * sample;
        var sampleCoeff = MathF.Sqrt(alphaProdPrev / alphaProd);
        var denominator = alphaProd * MathF.Sqrt(betaProdPrev) + MathF.Sqrt(alphaProd * betaProd * alphaProdPrev);
        return sampleCoeff * sample - (alphaProdPrev - alphaProd) * epsilon / denominator;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            epsilons.Dispose();
            firstSample?.Dispose();
        }
        base.Dispose(disposing);
    }
}
