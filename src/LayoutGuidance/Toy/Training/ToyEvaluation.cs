using LayoutGuidance.Evaluation;
using LayoutGuidance.Text;

namespace LayoutGuidance.Toy.Training;

/// <summary>Unguided quality of a checkpoint: samples for held-out captions, scored by the shape detector.</summary>
public static class ToyEvaluation
{
    /// <summary>Held-out captions come from seeds far above any training batch.</summary>
    const ulong CaptionSeed = 1UL << 41;

    /// <summary>Samples <paramref name="count"/> captions (DDIM, CFG), writes a grid PNG and returns the detector's summary.</summary>
    public static LayoutSummary Evaluate(ToyTrainingOptions options, int count, string gridPath, int steps, double guidanceScale, Action<string> echo)
    {
        Native.TorchRuntime.Initialize();
        TorchSharp.torch.set_num_threads(options.Threads);
        using var vae = ToyComponents.LoadVae(options.CheckpointFolder);
        var (unet, text) = ToyComponents.LoadDenoiser(options.CheckpointFolder);
        using var _u = unet;
        using var _t = text;
        var captions = new ToyCaptions(ClipTokenizer.FromPretrained(options.TokenizerFolder));
        var samples = ShapesDataset.GenerateBatch(CaptionSeed, count);
        var images = new List<byte[]>();
        const int chunk = 16;
        for (var i = 0; i < count; i += chunk)
        {
            var part = samples.Skip(i).Take(chunk).ToArray();
            images.AddRange(ToySampler.Sample(unet, text, vae, part.Select(s => captions.Encode(s).InputIds).ToArray(),
                captions.EmptyPrompt(), steps, guidanceScale, seed: i));
        }
        SampleGrid.Write(gridPath, images, ShapesDataset.ImageSize, columns: 8);
        var summary = AgainstTruth(samples, images);
        echo($"unguided, {count} held-out captions, DDIM {steps}, CFG {guidanceScale}: object accuracy {summary.ObjectAccuracy:P1}, " +
             $"colour {summary.ColorAccuracy:P1}, all objects {summary.AllFoundRate:P1}, IoU≥0.5 with the training box {summary.IouSuccessRate:P1}, " +
             $"unrequested per image {summary.UnrequestedPerImage:F2}");
        for (var i = 0; i < Math.Min(8, count); i++) echo($"  {i}: \"{samples[i].Caption}\"");
        var reconstructed = Math.Max(count, 256);
        var ceiling = Reconstructions(vae, reconstructed);
        echo($"VAE reconstructions of {reconstructed} held-out images (the ceiling for generated ones): object accuracy {ceiling.ObjectAccuracy:P1}, " +
             $"colour {ceiling.ColorAccuracy:P1}, unrequested per image {ceiling.UnrequestedPerImage:F2}");
        return summary;
    }

    /// <summary>Held-out data images encoded (posterior mean) and decoded, scored against their own objects.</summary>
    static LayoutSummary Reconstructions(Models.Vae.AutoencoderKL vae, int count)
    {
        using var _ = TorchSharp.torch.no_grad();
        using var scope = TorchSharp.torch.NewDisposeScope();
        var samples = ShapesDataset.GenerateBatch(CaptionSeed, count);
        using var posterior = vae.Encode(ImageTensors.ToTensor(samples));
        return AgainstTruth(samples, ImageTensors.ToRgbBytes(vae.Decode(posterior.Mean)));
    }

    /// <summary>
    /// Detects the objects of each generated image and scores them against the objects and boxes of
    /// the data sample whose caption (and, for guidance, whose boxes) produced it.
    /// </summary>
    internal static LayoutSummary AgainstTruth(IReadOnlyList<ShapeSample> samples, IReadOnlyList<byte[]> images)
    {
        var detector = new ShapeDetector();
        return LayoutMetrics.Summarize(samples.Select((s, i) => LayoutMetrics.Score(
            s.Objects.Select(o => new RequestedObject(o.Color, o.Shape, o.Box)).ToArray(),
            detector.Detect(images[i], ShapesDataset.ImageSize, ShapesDataset.ImageSize))));
    }
}
