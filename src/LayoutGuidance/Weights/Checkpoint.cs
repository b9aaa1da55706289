using System.Text.Json;
using System.Text.RegularExpressions;
using static TorchSharp.torch;

namespace LayoutGuidance.Weights;

/// <summary>
/// The weights of one pipeline component as a single name → tensor view, whether they sit in one
/// safetensors file or in shards listed by a <c>*.safetensors.index.json</c> <c>weight_map</c>.
/// File names follow diffusers (<c>diffusion_pytorch_model[.variant].safetensors</c>, unet/vae) and
/// transformers (<c>model[.variant].safetensors</c>, text encoders).
/// </summary>
public sealed partial class Checkpoint : IDisposable
{
    readonly List<SafeTensorsFile> shards;
    readonly Dictionary<string, SafeTensorsFile> fileOf;

    /// <summary>The component folder.</summary>
    public string Folder { get; }
    /// <summary>The file that was resolved: a safetensors file or a sharded index.</summary>
    public string Path { get; }
    /// <summary>The safetensors files behind the view (one unless sharded).</summary>
    public IReadOnlyList<string> Files { get; }
    /// <summary>Every tensor name, in ordinal order.</summary>
    public IReadOnlyList<string> Keys { get; }

    Checkpoint(string folder, string path, List<SafeTensorsFile> shards, Dictionary<string, SafeTensorsFile> fileOf)
    {
        Folder = folder;
        Path = path;
        this.shards = shards;
        this.fileOf = fileOf;
        Files = shards.Select(s => s.Path).ToList();
        Keys = fileOf.Keys.Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// The file names <see cref="Open"/> tries, in order: single files before sharded indexes, diffusers'
    /// name before transformers'. A variant goes before the last extension, as diffusers and transformers
    /// spell it (<c>model.fp16.safetensors</c>, <c>model.safetensors.index.fp16.json</c>).
    /// </summary>
    public static IReadOnlyList<string> WeightFileNames(string? variant = null)
    {
        if (variant is not null && !VariantPattern().IsMatch(variant))
            throw new ArgumentException($"variant '{variant}' is not a plain name such as fp16", nameof(variant));
        return
        [
            WithVariant("diffusion_pytorch_model.safetensors", variant),
            WithVariant("model.safetensors", variant),
            WithVariant("diffusion_pytorch_model.safetensors.index.json", variant),
            WithVariant("model.safetensors.index.json", variant),
        ];
    }

    /// <summary>Opens the weights of a component folder; <paramref name="variant"/> picks e.g. the fp16 files.</summary>
    public static Checkpoint Open(string folder, string? variant = null)
    {
        folder = System.IO.Path.GetFullPath(folder);
        var lookedFor = WeightFileNames(variant);
        if (!Directory.Exists(folder)) throw new CheckpointException(folder, $"folder does not exist (looked for {string.Join(", ", lookedFor)})", lookedFor);
        foreach (var name in lookedFor)
        {
            var path = System.IO.Path.Combine(folder, name);
            if (File.Exists(path)) return OpenFile(path);
        }
        throw NoWeights(folder, variant, lookedFor);
    }

    /// <summary>Opens one safetensors file, or a sharded checkpoint through its <c>.safetensors.index.json</c>.</summary>
    public static Checkpoint OpenFile(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        var folder = System.IO.Path.GetDirectoryName(path)!;
        if (path.EndsWith(".json", StringComparison.Ordinal)) return OpenIndex(folder, path);
        var file = SafeTensorsFile.Open(path);
        return new Checkpoint(folder, path, [file], file.Tensors.ToDictionary(t => t.Name, _ => file));
    }

    public bool Contains(string name) => fileOf.ContainsKey(name);

    public SafeTensorInfo this[string name] => FileOf(name)[name];

    /// <summary>The safetensors file (shard) that holds <paramref name="name"/>.</summary>
    public SafeTensorsFile FileOf(string name) =>
        fileOf.TryGetValue(name, out var f) ? f : throw new CheckpointException(Folder, $"no tensor named '{name}' in {System.IO.Path.GetFileName(Path)}");

    /// <inheritdoc cref="SafeTensorsFile.Load"/>
    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null) => FileOf(name).Load(name, dtype, device);

    /// <inheritdoc cref="SafeTensorsFile.CopyTo"/>
    public void CopyTo(string name, Tensor destination) => FileOf(name).CopyTo(name, destination);

    /// <summary>Every tensor by name.</summary>
    public Dictionary<string, Tensor> LoadAll(ScalarType? dtype = null, Device? device = null) =>
        Keys.ToDictionary(k => k, k => Load(k, dtype, device));

    public void Dispose()
    {
        foreach (var s in shards) s.Dispose();
    }

    static string WithVariant(string name, string? variant)
    {
        if (variant is null) return name;
        var dot = name.LastIndexOf('.');
        return $"{name[..dot]}.{variant}{name[dot..]}";
    }

    static Checkpoint OpenIndex(string folder, string indexPath)
    {
        var index = System.IO.Path.GetFileName(indexPath);
        CheckpointException Bad(string what) => new(folder, $"{index}: {what}");
        Dictionary<string, string> weightMap;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath), new JsonDocumentOptions { AllowDuplicateProperties = false });
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw Bad("no \"weight_map\" object");
            weightMap = [];
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String) throw Bad($"weight_map entry '{entry.Name}' is not a file name");
                var shard = entry.Value.GetString()!;
                // Shards live next to the index; anything else would let an index reach arbitrary files.
                if (shard.Length == 0 || shard != System.IO.Path.GetFileName(shard) || shard is "." or "..")
                    throw Bad($"weight_map entry '{entry.Name}' names '{shard}', which is not a file in this folder");
                weightMap.Add(entry.Name, shard);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Bad(e.Message); }
        catch (JsonException e) { throw Bad($"not valid JSON ({e.Message})"); }

        var opened = new List<SafeTensorsFile>();
        try
        {
            var byShard = new Dictionary<string, SafeTensorsFile>();
            foreach (var shard in weightMap.Values.Distinct().Order(StringComparer.Ordinal))
            {
                var shardPath = System.IO.Path.Combine(folder, shard);
                if (!File.Exists(shardPath)) throw Bad($"lists shard {shard}, which is missing");
                var file = SafeTensorsFile.Open(shardPath);
                opened.Add(file);
                byShard.Add(shard, file);
            }
            var fileOf = new Dictionary<string, SafeTensorsFile>();
            foreach (var (name, shard) in weightMap)
            {
                if (!byShard[shard].Contains(name)) throw Bad($"places '{name}' in {shard}, which does not hold it");
                fileOf.Add(name, byShard[shard]);
            }
            foreach (var (shard, file) in byShard)
                foreach (var t in file.Tensors)
                    if (!ReferenceEquals(fileOf.GetValueOrDefault(t.Name), file))
                        throw Bad($"shard {shard} holds '{t.Name}', which the weight_map does not place there");
            return new Checkpoint(folder, indexPath, opened, fileOf);
        }
        catch
        {
            foreach (var f in opened) f.Dispose();
            throw;
        }
    }

    static CheckpointException NoWeights(string folder, string? variant, IReadOnlyList<string> lookedFor)
    {
        var present = Directory.GetFiles(folder).Select(f => System.IO.Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        var reason = $"no {(variant is null ? "" : $"'{variant}' variant ")}safetensors weights (looked for {string.Join(", ", lookedFor)})";
        var pickles = present.Where(n => PicklePattern().IsMatch(n)).ToList();
        var otherVariants = present.Where(n => WeightNamePattern().IsMatch(n)).ToList();
        if (pickles.Count > 0)
            reason += $". Found {string.Join(", ", pickles)}: PyTorch .bin/pickle checkpoints are not supported (unpickling can run arbitrary code). "
                      + ConversionHint(folder, pickles);
        else if (otherVariants.Count > 0)
            reason += $". Found {string.Join(", ", otherVariants)}: "
                      + (variant is null ? "choose one of its variants (e.g. variant \"fp16\")" : "open it without a variant, or with the variant present");
        else if (present.Count == 0)
            reason += ". The folder is empty";
        return new CheckpointException(folder, reason, lookedFor);
    }

    static string ConversionHint(string folder, List<string> pickles)
    {
        var generic = "Download the model's .safetensors files instead, or load it once in Python and save it with save_pretrained(folder, safe_serialization=True).";
        var single = pickles.Select(n => SingleBinPattern().Match(n)).FirstOrDefault(m => m.Success);
        if (single is null) return generic;
        var stem = single.Groups["stem"].Value == "pytorch_model" ? "model" : "diffusion_pytorch_model";
        var source = System.IO.Path.Combine(folder, single.Value);
        var target = System.IO.Path.Combine(folder, $"{stem}{single.Groups["variant"].Value}.safetensors");
        return "Convert it once with Python: python -c \"import torch; from safetensors.torch import save_file; "
               + $"sd = torch.load('{source}', map_location='cpu', weights_only=True); "
               + $"save_file({{k: v.contiguous().clone() for k, v in sd.items()}}, '{target}', metadata={{'format': 'pt'}})\". "
               + generic;
    }

    [GeneratedRegex(@"^[A-Za-z0-9_\-]+$")]
    private static partial Regex VariantPattern();

    [GeneratedRegex(@"(\.bin|\.bin\.index(\.[^.]+)?\.json|\.ckpt|\.pt|\.pth)$")]
    private static partial Regex PicklePattern();

    [GeneratedRegex(@"^(?<stem>diffusion_pytorch_model|pytorch_model)(?<variant>\.[A-Za-z0-9_\-]+)?\.bin$")]
    private static partial Regex SingleBinPattern();

    [GeneratedRegex(@"^(diffusion_pytorch_model|model)([.\-][^/]*)?\.safetensors(\.index(\.[A-Za-z0-9_\-]+)?\.json)?$")]
    private static partial Regex WeightNamePattern();
}
