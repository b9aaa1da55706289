using LayoutGuidance.Evaluation;
using LayoutGuidance.Guidance;
using LayoutGuidance.Models.Attention;
using LayoutGuidance.Models.Clip;
using LayoutGuidance.Models.UNet;
using LayoutGuidance.Models.Vae;
using LayoutGuidance.Schedulers;
using LayoutGuidance.Text;
using static TorchSharp.torch;

namespace LayoutGuidance.Toy.Training;

/// <summary>
/// Measures backward layout guidance on a checkpoint, to choose the defaults written to
/// layout_guidance.json: held-out captions are sampled with their true boxes as the requested layout,
/// for a few settings, and the detector scores placement (IoU ≥ 0.5, centre in box). The guidance is
/// the paper's: inside the window, up to max_iter times per step while E exceeds the threshold,
/// z ← z − η·σ_t²·∇_z E on the conditional UNet pass (σ_t = <see cref="Scheduler.SampleNoiseStd"/>).
/// </summary>
static class ToyGuidanceProbe
{
    const ulong LayoutSeed = 1UL << 42;

    public static void Run(ToyTrainingOptions options, int count, Action<string> echo)
    {
        using var vae = ToyComponents.LoadVae(options.CheckpointFolder);
        var (unet, text) = ToyComponents.LoadDenoiser(options.CheckpointFolder);
        using var _u = unet;
        using var _t = text;
        var captions = new ToyCaptions(ClipTokenizer.FromPretrained(options.TokenizerFolder));
        var samples = ShapesDataset.GenerateBatch(LayoutSeed, count);
        var encoded = samples.Select(captions.Encode).ToArray();
        var layouts = samples.Select((s, b) => (IReadOnlyList<LayoutObject>)s.Objects.Select((o, k) => new LayoutObject(o.Phrase,
            [new BoundingBox(o.Box.X0, o.Box.Y0, o.Box.X1, o.Box.Y1)], encoded[b].ObjectPositions[k])).ToArray()).ToArray();
        var d = options.GuidanceDefaults;
        var layers = new LayerSelection(d.GuidedLayers.Split('+')).Resolve(unet.CrossAttentionLayers.Select(l => l.Path).ToArray());

        // Unguided, then η/3, η, 3η over the default window and over one 5 steps longer.
        int[][] windows = [d.Window, [d.Window[0], d.Window[1] + 5]];
        ToyGuidanceDefaults[] settings =
        [
            d with { LossScale = 0 },
            .. windows.SelectMany(w => new[] { d.LossScale / 3, d.LossScale, d.LossScale * 3 }.Select(eta => d with { Window = w, LossScale = eta })),
        ];
        foreach (var s in settings)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var images = new List<byte[]>();
            for (var i = 0; i < count; i += 16)
            {
                var part = Enumerable.Range(i, Math.Min(16, count - i)).ToArray();
                images.AddRange(Sample(unet, text, vae, part.Select(b => encoded[b].InputIds).ToArray(), captions.EmptyPrompt(),
                    part.Select(b => layouts[b]).ToArray(), layers, s, seed: i));
            }
            var summary = ToyEvaluation.AgainstTruth(samples, images);
            var name = $"probe-eta{s.LossScale}-w{s.Window[0]}-{s.Window[1]}";
            SampleGrid.Write(Path.Combine(options.CheckpointFolder, name + ".png"),
                images.Select((image, b) => WithBoxes(image, samples[b].Objects.Select(o => o.Box))).ToArray(), ShapesDataset.ImageSize, columns: 8);
            echo($"{name}: IoU≥0.5 {summary.IouSuccessRate:P1}, centre in box {summary.CenterSuccessRate:P1}, " +
                 $"colour blob centred in box {summary.ColorCenterSuccessRate:P1}, object accuracy {summary.ObjectAccuracy:P1}, " +
                 $"colour {summary.ColorAccuracy:P1}, relations {summary.RelationAccuracy:P1} ({clock.Elapsed.TotalSeconds:F0} s)");
        }
    }

    /// <summary>A copy of the image with each requested box outlined in black.</summary>
    static byte[] WithBoxes(byte[] image, IEnumerable<Box> boxes)
    {
        const int size = ShapesDataset.ImageSize;
        var copy = (byte[])image.Clone();
        void Black(int x, int y)
        {
            if (x is >= 0 and < size && y is >= 0 and < size) Array.Clear(copy, (y * size + x) * 3, 3);
        }
        foreach (var box in boxes)
        {
            int x0 = (int)(box.X0 * size), y0 = (int)(box.Y0 * size), x1 = (int)(box.X1 * size), y1 = (int)(box.Y1 * size);
            for (var x = x0; x <= x1; x++) { Black(x, y0); Black(x, y1); }
            for (var y = y0; y <= y1; y++) { Black(x0, y); Black(x1, y); }
        }
        return copy;
    }

    static byte[][] Sample(UNet2DConditionModel unet, CLIPTextModel text, AutoencoderKL vae, IReadOnlyList<long[]> ids, long[] emptyIds,
        IReadOnlyList<IReadOnlyList<LayoutObject>> layouts, IReadOnlyList<string> layers, ToyGuidanceDefaults s, long seed)
    {
        using var scope = NewDisposeScope();
        var batch = ids.Count;
        Tensor context;
        using (no_grad())
        {
            using var encoded = text.call(ToyCaptions.Ids([.. Enumerable.Repeat(emptyIds, batch), .. ids]));
            context = encoded.LastHiddenState.clone();
        }
        var cond = context[batch..];
        using var scheduler = new DdimScheduler(ToyArchitecture.Scheduler);
        scheduler.SetTimesteps(s.NumInferenceSteps);
        using var generator = new Generator().manual_seed(seed);
        var latents = randn([batch, 4, ToyArchitecture.LatentSize, ToyArchitecture.LatentSize], generator: generator);
        var heads = (int)unet.CrossAttentionLayers.First(l => l.Path == layers[0]).Heads;
        for (var i = 0; i < scheduler.StepCount; i++)
        {
            using var stepScope = NewDisposeScope();
            var t = scheduler.Timesteps[i];
            if (s.LossScale > 0 && i >= s.Window[0] && i < s.Window[1])
            {
                var sigma2 = Math.Pow(scheduler.SampleNoiseStd(i), 2);
                for (var it = 0; it < s.MaxIter; it++)
                {
                    using var iterScope = NewDisposeScope();
                    var z = latents.detach().requires_grad_(true);
                    using var capture = new AttentionCapture(layers, stopWhenComplete: true);
                    unet.forward(z, t, cond, capture: capture);
                    var maps = capture.MapsIn(layers);
                    var energies = Enumerable.Range(0, batch).Select(b => LayoutEnergy.Compute(
                        maps.Select(m => m[(b * heads)..((b + 1) * heads)]).ToArray(), layouts[b],
                        ToyArchitecture.LatentSize, ToyArchitecture.LatentSize)).ToArray();
                    var energy = stack(energies);
                    var active = (energy > s.LossThreshold).to(ScalarType.Float32).detach();
                    if (active.sum().item<float>() == 0) break;
                    var grad = autograd.grad([(energy * active).sum() * s.LossScale], [z])[0];
                    var previous = latents;
                    latents = (z.detach() - grad * sigma2).MoveToOuterDisposeScope();
                    previous.Dispose();
                }
            }
            using (no_grad())
            {
                var eps = unet.forward(cat([latents, latents]), t, context)!.chunk(2);
                var guided = eps[0] + (eps[1] - eps[0]) * s.GuidanceScale;
                var previous = latents;
                latents = scheduler.Step(guided, i, latents).PrevSample.MoveToOuterDisposeScope();
                previous.Dispose();
            }
        }
        using (no_grad()) return ImageTensors.ToRgbBytes(vae.Decode(latents / vae.ScalingFactor));
    }
}
