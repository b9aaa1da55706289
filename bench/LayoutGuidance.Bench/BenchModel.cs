using System.Text.Json;
using LayoutGuidance.Guidance;
using LayoutGuidance.Models;
using LayoutGuidance.Models.UNet;
using LayoutGuidance.Pipelines;
using LayoutGuidance.Weights;
using static TorchSharp.torch;

namespace LayoutGuidance.Bench;

/// <summary>
/// A UNet to measure, with the layers backward guidance reads. Real architectures ("sd15", "sdxl")
/// are built from the real configs and loaded, through the same path as a pipeline, from a synthetic
/// checkpoint of random weights (<see cref="SyntheticCheckpoint"/>); pipeline folders (the tiny test
/// fixtures, the toy model) are loaded as pipelines.
/// </summary>
sealed class BenchModel : IDisposable
{
    readonly StableDiffusionPipeline? pipeline;

    BenchModel(string name, UNet2DConditionModel unet, string family, IReadOnlyList<string> guidedPaths, ScalarType dtype, StableDiffusionPipeline? pipeline)
    {
        Name = name;
        UNet = unet;
        Family = family;
        GuidedPaths = guidedPaths;
        DType = dtype;
        this.pipeline = pipeline;
    }

    public string Name { get; }
    public UNet2DConditionModel UNet { get; }
    /// <summary>"sd" or "sdxl".</summary>
    public string Family { get; }
    public IReadOnlyList<string> GuidedPaths { get; }
    public IReadOnlyList<string> AllCrossAttentionPaths => UNet.CrossAttentionLayers.Select(l => l.Path).ToList();
    public ScalarType DType { get; }
    public long WeightBytes => UNet.parameters().Sum(p => p.numel() * p.element_size());

    public static readonly string[] RealArchitectures = ["sd15", "sdxl"];

    public static string DTypeName(ScalarType t) => t == ScalarType.BFloat16 ? "bf16" : t == ScalarType.Float32 ? "fp32" : t.ToString();

    public static BenchModel Load(string name, ScalarType dtype, string repositoryRoot)
    {
        if (RealArchitectures.Contains(name))
        {
            var config = RealConfig(name, repositoryRoot);
            UNet2DConditionModel unet;
            using (MetaDevice.Scope()) unet = new UNet2DConditionModel(config);
            using (var checkpoint = Checkpoint.OpenFile(SyntheticCheckpoint.PathFor(name)))
                ModuleWeights.Load(unet, checkpoint, dtype);
            unet.eval();
            var family = name == "sdxl" ? "sdxl" : "sd";
            return new BenchModel(name, unet, family, LayerSelection.ForFamily(family).Resolve(unet.CrossAttentionLayers.Select(l => l.Path).ToList()), dtype, null);
        }
        var pipe = StableDiffusionPipeline.Load(PipelineFolder(name, repositoryRoot), new PipelineOptions { DType = dtype });
        var layers = pipe.DefaultBackwardGuidance.Layers ?? LayerSelection.ForFamily(pipe.FamilyName);
        return new BenchModel(name, pipe.UNet, pipe.FamilyName, layers.Resolve(pipe.UNet.CrossAttentionLayers.Select(l => l.Path).ToList()), dtype, pipe);
    }

    /// <summary>The folder of a pipeline-folder model: the tiny fixtures or models/toy; null when it is not there.</summary>
    public static string PipelineFolder(string name, string repositoryRoot) => name switch
    {
        "tiny-sd15" or "tiny-sd21" or "tiny-sdxl" => Path.Combine(repositoryRoot, "tests", "fixtures", name),
        "toy" => Path.Combine(repositoryRoot, "models", "toy"),
        _ => throw new ArgumentException($"unknown benchmark model '{name}'; use sd15, sdxl, tiny-sd15, tiny-sd21, tiny-sdxl or toy"),
    };

    public static bool IsPresent(string name, string repositoryRoot) =>
        RealArchitectures.Contains(name) || File.Exists(Path.Combine(PipelineFolder(name, repositoryRoot), ModelIndex.FileName));

    /// <summary>The real UNet config of a published model, from the architecture manifests the tests check the UNet against.</summary>
    public static UNet2DConditionConfig RealConfig(string name, string repositoryRoot)
    {
        var manifest = Path.Combine(repositoryRoot, "tests", "fixtures", "manifests", "real-architectures.json");
        using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
        var config = doc.RootElement.GetProperty($"unet/{name}").GetProperty("config").GetRawText();
        return JsonSerializer.Deserialize<UNet2DConditionConfig>(config, DiffusersConfig.Options)
            ?? throw new ConfigException(manifest, $"unet/{name}.config is empty");
    }

    /// <summary>Runs <paramref name="action"/> with every UNet parameter's requires_grad off, then restores each.</summary>
    public void WithFrozenWeights(Action action)
    {
        var parameters = UNet.parameters().Select(p => (Parameter: p, p.requires_grad)).ToList();
        foreach (var (p, _) in parameters) p.requires_grad = false;
        try { action(); }
        finally { foreach (var (p, was) in parameters) p.requires_grad = was; }
    }

    public void Dispose()
    {
        if (pipeline is not null) pipeline.Dispose();
        else UNet.Dispose();
    }
}
