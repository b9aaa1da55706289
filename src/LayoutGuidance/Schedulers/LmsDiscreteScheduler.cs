using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

/// <summary>
/// k-diffusion's linear multistep sampler (K-LMS): x_{i+1} = x_i + Σ_k c_k·d_{i−k}, where d = (x − x_0)/σ and
/// c_k integrates the Lagrange basis polynomial of the past σ's over [σ_i, σ_{i+1}]. The original
/// layout-guidance code samples with it.
/// </summary>
public sealed class LmsDiscreteScheduler : SigmaScheduler
{
    /// <summary>diffusers' default order of step(): up to four past derivatives.</summary>
    public const int Order = 4;

    readonly TensorHistory derivatives = new(Order);
    int nextStep;

    public LmsDiscreteScheduler(SchedulerConfig config) : base(config)
    {
        if (config.UseKarrasSigmas)
            throw new SchedulerConfigException("LMSDiscreteScheduler: use_karras_sigmas=true is not supported; set it to false");
    }

    public override string ClassName => "LMSDiscreteScheduler";

    protected override void StartRun()
    {
        base.StartRun();
        derivatives.Clear();
        nextStep = 0;
    }

    /// <summary>
    /// ∫_{σ_t}^{σ_{t+1}} Π_{k≠j} (τ − σ_{t−k}) / (σ_{t−j} − σ_{t−k}) dτ, the weight of the derivative from
    /// <paramref name="currentOrder"/> = j steps back, for a method of <paramref name="order"/> steps.
    /// </summary>
    public static double LmsCoefficient(IReadOnlyList<float> sigmas, int order, int t, int currentOrder)
    {
        double Basis(double tau)
        {
            var product = 1.0;
            for (var k = 0; k < order; k++)
                if (k != currentOrder)
                    product *= (tau - sigmas[t - k]) / ((double)sigmas[t - currentOrder] - sigmas[t - k]);
            return product;
        }
        // The basis polynomial has degree order − 1, so `order` nodes integrate it exactly.
        return GaussLegendre.Integrate(Basis, sigmas[t], sigmas[t + 1], order);
    }

    public override SchedulerStepOutput Step(Tensor modelOutput, int stepIndex, Tensor sample)
    {
        CheckStepIndex(stepIndex);
        CheckInOrder(stepIndex, nextStep);
        using var scope = NewDisposeScope();
        var sigma = Sigma(stepIndex);
        var predOriginal = PredictOriginal(Config.PredictionType, modelOutput, sample, sigma);
        derivatives.Push((sample - predOriginal) / sigma);

        var order = Math.Min(stepIndex + 1, Order);
        // Sum the (small) multistep terms first, then add them to the sample once, as diffusers does:
        // adding them to the sample one by one rounds more.
        var update = LmsCoefficient(RunSigmas, order, stepIndex, 0) * derivatives.FromNewest(0);
        for (var k = 1; k < order; k++)
            update = update + LmsCoefficient(RunSigmas, order, stepIndex, k) * derivatives.FromNewest(k);
        var prev = sample + update;
        nextStep++;
        return new SchedulerStepOutput(prev.MoveToOuterDisposeScope(), predOriginal.MoveToOuterDisposeScope());
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) derivatives.Dispose();
        base.Dispose(disposing);
    }
}
