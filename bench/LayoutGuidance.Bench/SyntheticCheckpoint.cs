using System.Diagnostics;
using LayoutGuidance.Models;
using LayoutGuidance.Models.UNet;
using LayoutGuidance.Weights;
using static TorchSharp.torch;

namespace LayoutGuidance.Bench;

/// <summary>
/// bfloat16 safetensors checkpoints of random weights for the real UNet architectures, so a benchmark
/// process loads a 2.6 B-parameter model in seconds instead of initialising it parameter by parameter.
/// Values follow PyTorch's default layer initialisation in scale — weights and biases uniform in
/// ±1/√fan_in, norm weights 1 and biases 0 — cut from one shared block of uniform noise (no two
/// overlapping tensors matter for timing or memory; the scale keeps activations finite).
/// </summary>
static class SyntheticCheckpoint
{
    const long NoiseElements = 32L << 20;

    public static string Folder => Path.Combine(Path.GetTempPath(), "layoutguidance-bench");

    public static string PathFor(string model) => Path.Combine(Folder, $"unet-{model}-random.bf16.safetensors");

    /// <summary>Writes the checkpoint of <paramref name="model"/>; returns the file size and the time spent writing it.</summary>
    public static (long Bytes, double Seconds) Write(string model, UNet2DConditionConfig config)
    {
        Directory.CreateDirectory(Folder);
        UNet2DConditionModel unet;
        using (MetaDevice.Scope()) unet = new UNet2DConditionModel(config);
        using var _ = unet;
        var shapes = unet.named_parameters().ToDictionary(p => p.name, p => p.parameter.shape);

        using var scope = NewDisposeScope();
        manual_seed(0);
        var noise = rand(NoiseElements) * 2 - 1;
        var tensors = new List<KeyValuePair<string, Tensor>>();
        long offset = 0;
        foreach (var (name, shape) in shapes.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var numel = shape.Aggregate(1L, (a, b) => a * b);
            if (numel > NoiseElements) throw new InvalidOperationException($"{name} has {numel} elements, more than the {NoiseElements}-element noise block");
            if (offset + numel > NoiseElements) offset = 0;
            using (NewDisposeScope())
            {
                var values = IsNorm(name)
                    ? (name.EndsWith(".weight", StringComparison.Ordinal) ? ones(shape) : zeros(shape))
                    : noise.narrow(0, offset, numel).view(shape) * (1 / Math.Sqrt(FanIn(name, shapes)));
                tensors.Add(new(name, values.to(ScalarType.BFloat16).MoveToOuterDisposeScope()));
            }
            offset += numel;
        }
        var path = PathFor(model);
        var clock = Stopwatch.StartNew();
        SafeTensorsWriter.Save(path, tensors, new Dictionary<string, string> { ["content"] = "random weights for benchmarking" });
        return (new FileInfo(path).Length, clock.Elapsed.TotalSeconds);
    }

    static bool IsNorm(string name) => name.Split('.')[^2] is var module && (module.StartsWith("norm", StringComparison.Ordinal) || module == "conv_norm_out");

    /// <summary>A weight's fan-in; a bias takes its layer's weight's.</summary>
    static long FanIn(string name, IReadOnlyDictionary<string, long[]> shapes)
    {
        var weight = name.EndsWith(".bias", StringComparison.Ordinal) ? name[..^".bias".Length] + ".weight" : name;
        var shape = shapes[weight];
        return shape.Length < 2 ? shape[0] : shape.Skip(1).Aggregate(1L, (a, b) => a * b);
    }
}
