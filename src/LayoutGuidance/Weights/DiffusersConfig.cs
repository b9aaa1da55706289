using System.Text.Json;
using System.Text.Json.Serialization;

namespace LayoutGuidance.Weights;

/// <summary>A config.json that cannot be read into its record: the file, the key and what was wrong.</summary>
public sealed class ConfigException(string path, string reason) : Exception($"{path}: {reason}")
{
    public string FilePath { get; } = path;
}

/// <summary>
/// Reads diffusers/transformers JSON configs into records. The snake_case mapping lives here once:
/// record properties are PascalCase (AttentionHeadDim ↔ attention_head_dim); unknown keys are
/// tolerated, as diffusers tolerates them; a value of the wrong type is a <see cref="ConfigException"/>.
/// </summary>
public static class DiffusersConfig
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public static T Read<T>(string path)
    {
        if (!File.Exists(path)) throw new ConfigException(path, "file not found");
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllBytes(path), Options)
                   ?? throw new ConfigException(path, "file holds null");
        }
        catch (JsonException e)
        {
            var where = string.IsNullOrEmpty(e.Path) ? "" : $" at {e.Path}";
            throw new ConfigException(path, $"cannot read as {typeof(T).Name}{where}: {e.Message}");
        }
    }

    public static void Write<T>(string path, T config) =>
        File.WriteAllText(path, JsonSerializer.Serialize(config, Options));
}
