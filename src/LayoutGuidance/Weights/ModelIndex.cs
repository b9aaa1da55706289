using System.Text.Json;

namespace LayoutGuidance.Weights;

/// <summary>One component of a diffusers pipeline: <c>"unet": ["diffusers", "UNet2DConditionModel"]</c> and its folder.</summary>
public sealed record PipelineComponent(string Name, string Library, string ClassName, string Folder);

/// <summary>
/// A diffusers pipeline folder as its <c>model_index.json</c> describes it: the pipeline class, the
/// diffusers version that saved it, its components (absent ones, written <c>[null, null]</c>, are left
/// out) and the pipeline's own settings such as <c>force_zeros_for_empty_prompt</c>.
/// </summary>
public sealed class ModelIndex
{
    public const string FileName = "model_index.json";

    public string Folder { get; }
    /// <summary><c>_class_name</c>, e.g. StableDiffusionXLPipeline.</summary>
    public string ClassName { get; }
    /// <summary><c>_diffusers_version</c>; null when the file does not say.</summary>
    public string? DiffusersVersion { get; }
    public IReadOnlyDictionary<string, PipelineComponent> Components { get; }
    /// <summary>Entries that are neither components nor <c>_</c>-prefixed, e.g. <c>requires_safety_checker</c>.</summary>
    public IReadOnlyDictionary<string, JsonElement> Settings { get; }

    ModelIndex(string folder, string className, string? version, Dictionary<string, PipelineComponent> components, Dictionary<string, JsonElement> settings)
    {
        Folder = folder;
        ClassName = className;
        DiffusersVersion = version;
        Components = components;
        Settings = settings;
    }

    /// <summary>Reads <c>model_index.json</c> of a pipeline folder; problems are a <see cref="ConfigException"/> naming the file and key.</summary>
    public static ModelIndex Read(string folder)
    {
        folder = Path.GetFullPath(folder);
        var path = Path.Combine(folder, FileName);
        ConfigException Bad(string what) => new(path, what);
        if (!File.Exists(path))
            throw Bad(Directory.Exists(folder) ? "file not found: this folder is not a diffusers pipeline (a pipeline folder holds model_index.json next to unet/, vae/, text_encoder/ ...)"
                      : File.Exists(folder) ? $"{folder} is a file; pass the pipeline folder that holds {FileName}"
                      : "file not found: the folder does not exist");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowDuplicateProperties = false }); }
        catch (JsonException e) { throw Bad($"not valid JSON ({e.Message})"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw Bad(e.Message); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad("not a JSON object");
            if (!root.TryGetProperty("_class_name", out var cls) || cls.ValueKind != JsonValueKind.String)
                throw Bad("\"_class_name\" is missing or not a string");
            string? version = null;
            if (root.TryGetProperty("_diffusers_version", out var v))
                version = v.ValueKind == JsonValueKind.String ? v.GetString() : throw Bad("\"_diffusers_version\" is not a string");

            var components = new Dictionary<string, PipelineComponent>();
            var settings = new Dictionary<string, JsonElement>();
            foreach (var entry in root.EnumerateObject())
            {
                if (entry.Name.StartsWith('_')) continue;
                if (entry.Value.ValueKind != JsonValueKind.Array)
                {
                    settings.Add(entry.Name, entry.Value.Clone());
                    continue;
                }
                var pair = entry.Value.EnumerateArray().ToArray();
                if (pair.Length == 2 && pair.All(p => p.ValueKind == JsonValueKind.Null)) continue;
                if (pair.Length != 2 || pair.Any(p => p.ValueKind != JsonValueKind.String))
                    throw Bad($"component \"{entry.Name}\" is not a [library, class] pair of strings");
                if (entry.Name != Path.GetFileName(entry.Name) || entry.Name is "." or "..")
                    throw Bad($"component name \"{entry.Name}\" is not a folder name");
                components.Add(entry.Name, new PipelineComponent(entry.Name, pair[0].GetString()!, pair[1].GetString()!, Path.Combine(folder, entry.Name)));
            }
            return new ModelIndex(folder, cls.GetString()!, version, components, settings);
        }
    }

    /// <summary>A component by name; it must be listed and its folder must exist.</summary>
    public PipelineComponent Component(string name)
    {
        var path = Path.Combine(Folder, FileName);
        if (!Components.TryGetValue(name, out var c))
            throw new ConfigException(path, $"the pipeline has no component \"{name}\" (it has {string.Join(", ", Components.Keys.Order(StringComparer.Ordinal))})");
        if (!Directory.Exists(c.Folder))
            throw new ConfigException(path, $"component \"{name}\" is listed but its folder {c.Folder} does not exist (incomplete download?)");
        return c;
    }

    /// <summary>The weights of a component; see <see cref="Checkpoint.Open"/>.</summary>
    public Checkpoint OpenCheckpoint(string name, string? variant = null) => Checkpoint.Open(Component(name).Folder, variant);
}
