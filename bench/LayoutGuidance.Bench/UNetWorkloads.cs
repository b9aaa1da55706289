using LayoutGuidance.Guidance;
using LayoutGuidance.Models.Attention;
using LayoutGuidance.Models.UNet;
using static TorchSharp.torch;

namespace LayoutGuidance.Bench;

/// <summary>
/// The three UNet workloads of a layout-guided generation, on fixed random inputs at one latent size:
/// an unguided classifier-free-guidance step (batch 2, no grad, fused attention everywhere), one
/// backward-guidance iteration as <see cref="BackwardGuidance.Step"/> runs it (batch 1, grad on the
/// latents, maps of the guided layers only, early exit after the last of them, gradient of η·E), and
/// the same iteration the way the original implementation pays for it (full forward, every
/// cross-attention map materialised, then the same energy and gradient).
/// </summary>
sealed class UNetWorkloads : IDisposable
{
    /// <summary>The first sigma and timestep of the reference's 51-step LMS schedule with SD1.5 betas.</summary>
    const double Sigma = 14.614641;
    const double Timestep = 999;
    const double LossScale = 30;

    readonly BenchModel model;
    readonly Tensor cfgSample, cfgContext, timestep, latents, context;
    readonly AddedConditions? cfgAdded, added;

    public UNetWorkloads(BenchModel model, int latent)
    {
        this.model = model;
        Latent = latent;
        var c = model.UNet.Config;
        var dtype = model.DType;
        var contextDim = c.CrossAttentionDimList[0];
        using var generator = new Generator(0);
        using (NewDisposeScope())
        {
            Tensor Randn(params long[] shape) => randn(shape, generator: generator).to(dtype).DetachFromDisposeScope();
            cfgSample = Randn(2, c.InChannels, latent, latent);
            cfgContext = Randn(2, 77, contextDim);
            latents = (randn([1, c.InChannels, latent, latent], generator: generator) * Sigma).DetachFromDisposeScope();
            context = cfgContext.narrow(0, 1, 1).contiguous().DetachFromDisposeScope();
            timestep = tensor(Timestep).DetachFromDisposeScope();
            if (c.AdditionEmbedType == "text_time")
            {
                var textDim = c.ProjectionClassEmbeddingsInputDim!.Value - 6 * c.AdditionTimeEmbedDim!.Value;
                var pixels = latent * 8;
                var timeIds = tensor(new float[] { pixels, pixels, 0, 0, pixels, pixels }).reshape(1, 6).to(dtype);
                var textEmbeds = Randn(2, textDim);
                cfgAdded = new AddedConditions(textEmbeds, cat([timeIds, timeIds], 0).DetachFromDisposeScope());
                added = new AddedConditions(textEmbeds.narrow(0, 1, 1).contiguous().DetachFromDisposeScope(), timeIds.DetachFromDisposeScope());
            }
        }
        Objects =
        [
            new LayoutObject("cat", [new BoundingBox(0.1, 0.2, 0.5, 0.8)], [2]),
            new LayoutObject("dog", [new BoundingBox(0.55, 0.15, 0.95, 0.85)], [5]),
        ];
    }

    public int Latent { get; }
    public IReadOnlyList<LayoutObject> Objects { get; }

    public UNetFlops CfgFlops => UNetFlops.Count(model.UNet.Config, Latent, Latent, 2);
    public UNetFlops IterationFlops => UNetFlops.Count(model.UNet.Config, Latent, Latent, 1);

    public void CfgStep()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        model.UNet.forward(cfgSample, timestep, cfgContext, cfgAdded);
    }

    /// <summary>One guidance iteration; returns the energy E and ∇_z(η·E).</summary>
    public (double Energy, Tensor Gradient) GuidedIteration(bool naive)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        var x = latents.detach().requires_grad_(true);
        using var capture = new AttentionCapture(naive ? model.AllCrossAttentionPaths : model.GuidedPaths, stopWhenComplete: !naive);
        var scaled = (x / Math.Sqrt(Sigma * Sigma + 1)).to(model.DType);
        model.UNet.forward(scaled, timestep, context, added, capture);
        var energy = LayoutEnergy.Compute(capture.MapsIn(model.GuidedPaths), Objects, Latent, Latent);
        var gradient = autograd.grad([energy * LossScale], [x])[0];
        return (energy.item<float>(), gradient.MoveToOuterDisposeScope());
    }

    public void Dispose()
    {
        foreach (var t in new[] { cfgSample, cfgContext, timestep, latents, context }) t.Dispose();
        cfgAdded?.TextEmbeds.Dispose();
        cfgAdded?.TimeIds.Dispose();
        added?.TextEmbeds.Dispose();
        added?.TimeIds.Dispose();
    }
}
