using LayoutGuidance.Models.Clip;
using LayoutGuidance.Models.UNet;
using LayoutGuidance.Models.Vae;
using LayoutGuidance.Schedulers;
using static TorchSharp.torch;

namespace LayoutGuidance.Toy.Training;

/// <summary>Plain text-to-image sampling (DDIM, classifier-free guidance, no layout guidance), to judge a checkpoint.</summary>
static class ToySampler
{
    public static byte[][] Sample(UNet2DConditionModel unet, CLIPTextModel text, AutoencoderKL vae,
        IReadOnlyList<long[]> ids, long[] emptyIds, int steps, double guidanceScale, long seed)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var batch = ids.Count;
        using var encoded = text.call(ToyCaptions.Ids([.. Enumerable.Repeat(emptyIds, batch), .. ids]));
        var context = encoded.LastHiddenState; // unconditional rows first, as the noise batch below
        using var scheduler = new DdimScheduler(ToyArchitecture.Scheduler);
        scheduler.SetTimesteps(steps);
        using var generator = new Generator().manual_seed(seed);
        var latents = randn([batch, 4, ToyArchitecture.LatentSize, ToyArchitecture.LatentSize], generator: generator);
        for (var i = 0; i < scheduler.StepCount; i++)
        {
            using var stepScope = NewDisposeScope();
            var eps = unet.forward(cat([latents, latents]), scheduler.Timesteps[i], context)!.chunk(2);
            var guided = eps[0] + (eps[1] - eps[0]) * guidanceScale;
            // The step output's tensors live in this scope; only the new latents leave it.
            var previous = latents;
            latents = scheduler.Step(guided, i, latents).PrevSample.MoveToOuterDisposeScope();
            previous.Dispose();
        }
        return ImageTensors.ToRgbBytes(vae.Decode(latents / vae.ScalingFactor));
    }
}
