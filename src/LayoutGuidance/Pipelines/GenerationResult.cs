using LayoutGuidance.Guidance;
using static TorchSharp.torch;

namespace LayoutGuidance.Pipelines;

/// <summary>A finished generation: final latents, the decoded image [1,3,H,W] in [0,1] (float32, CPU), and its record.</summary>
public sealed class GenerationResult(Tensor latents, Tensor image, GuidanceRecord record, IReadOnlyList<LayoutObject> objects) : IDisposable
{
    public Tensor Latents { get; } = latents;
    public Tensor Image { get; } = image;
    public GuidanceRecord Record { get; } = record;
    /// <summary>The layout's phrases bound to token positions (empty without a layout).</summary>
    public IReadOnlyList<LayoutObject> Objects { get; } = objects;

    public void SaveImage(string path) => Outputs.Png.Save(path, Image);

    /// <summary>One attention heatmap per phrase over the image, box outlined: <c>{folder}/{prefix}-{k}.png</c>.</summary>
    public IReadOnlyList<string> SaveHeatmaps(string folder, string prefix)
    {
        var rgb = Outputs.Png.ToRgb(Image, out var width, out var height);
        return Outputs.HeatmapOverlay.SaveAll(folder, prefix, rgb, width, height, Record.Phrases);
    }

    public void Dispose()
    {
        Latents.Dispose();
        Image.Dispose();
    }
}

/// <summary>Passed to the step callback after every denoising step.</summary>
public sealed record StepProgress(int StepIndex, int StepCount, double Timestep, Tensor Latents);
