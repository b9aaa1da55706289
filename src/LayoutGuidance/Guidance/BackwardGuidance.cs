using LayoutGuidance.Models.Attention;
using static TorchSharp.torch;

namespace LayoutGuidance.Guidance;

/// <summary>
/// Backward guidance for one generation (paper §3.3, the reference's loop): at each guided step,
/// repeatedly run the conditional UNet with grad up to the last guided layer, take
/// E = energy of the captured maps, and move the latent z ← z − η·s²·∇_z E, while the schedule says so
/// (s = <see cref="Schedulers.Scheduler.SampleNoiseStd"/>: the original's σ with its LMS scheduler).
/// </summary>
public sealed class BackwardGuidance
{
    readonly BackwardGuidanceSchedule schedule;
    readonly List<GuidanceIteration> iterations = new();

    public BackwardGuidance(BackwardGuidanceOptions options, IReadOnlyList<string> guidedPaths, IReadOnlyList<LayoutObject> objects)
    {
        if (guidedPaths.Count == 0) throw new GuidanceOptionsException("Layers", "(none)", "backward guidance needs at least one guided layer");
        Options = options;
        GuidedPaths = guidedPaths;
        Objects = objects;
        schedule = new BackwardGuidanceSchedule(options);
    }

    public BackwardGuidanceOptions Options { get; }
    public IReadOnlyList<string> GuidedPaths { get; }
    public IReadOnlyList<LayoutObject> Objects { get; }
    public IReadOnlyList<GuidanceIteration> Iterations => iterations;

    /// <summary>
    /// Runs the guidance iterations of one step. <paramref name="guidedPass"/> runs the conditional UNet
    /// (batch 1) on the scaled latents with the given capture. Returns the updated latents, a new tensor
    /// the caller owns (the input is left alone).
    /// </summary>
    /// <param name="noiseStd">
    /// Standard deviation of the noise in <paramref name="latents"/> (σ for σ-space schedulers such as the
    /// reference's LMS, √(1 − ᾱ_t) for variance-preserving ones): the update is z − η·noiseStd²·∇_z E.
    /// </param>
    /// <param name="scaleModelInput">The scheduler's input scaling; the gradient flows through it, as in the reference.</param>
    public Tensor Step(int stepIndex, Tensor latents, double noiseStd, Func<Tensor, Tensor> scaleModelInput,
                       Action<Tensor, AttentionCapture> guidedPass)
    {
        var current = latents.alias();
        var (height, width) = ((int)latents.shape[2], (int)latents.shape[3]);
        for (var iteration = 0; schedule.ShouldIterate(stepIndex, iteration); iteration++)
        {
            using var scope = NewDisposeScope();
            using var grad = enable_grad();
            var x = current.detach().requires_grad_(true);
            using var capture = new AttentionCapture(GuidedPaths, stopWhenComplete: true);
            guidedPass(scaleModelInput(x), capture);
            var energy = LayoutEnergy.Compute(capture.MapsIn(GuidedPaths), Objects, height, width);
            var gradient = autograd.grad([energy * Options.LossScale], [x])[0];
            var e = energy.item<float>();
            var finite = gradient.isfinite().all().item<bool>();
            var apply = schedule.Record(stepIndex, iteration, e, finite);
            iterations.Add(new GuidanceIteration(stepIndex, iteration, e, apply));
            if (!apply) continue;
            var next = (x.detach() - gradient * (noiseStd * noiseStd)).DetachFromDisposeScope();
            current.Dispose();
            current = next;
        }
        return current;
    }
}
