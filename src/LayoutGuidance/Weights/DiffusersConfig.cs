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
            return JsonSerializer.Deserialize<T>(QuoteNonFiniteLiterals(File.ReadAllBytes(path)), Options)
                   ?? throw new ConfigException(path, "file holds null");
        }
        catch (JsonException e)
        {
            var where = string.IsNullOrEmpty(e.Path) ? "" : $" at {e.Path}";
            throw new ConfigException(path, $"cannot read as {typeof(T).Name}{where}: {e.Message}");
        }
    }

    /// <summary>
    /// Python's json module writes bare NaN / Infinity / -Infinity (diffusers saves
    /// lambda_min_clipped = -inf that way), which strict JSON readers refuse; quoting them outside
    /// strings lets AllowNamedFloatingPointLiterals read them.
    /// </summary>
    internal static byte[] QuoteNonFiniteLiterals(byte[] json)
    {
        var output = new List<byte>(json.Length + 16);
        bool inString = false;
        for (int i = 0; i < json.Length; i++)
        {
            byte b = json[i];
            if (inString)
            {
                output.Add(b);
                if (b == (byte)'\\' && i + 1 < json.Length) output.Add(json[++i]);
                else if (b == (byte)'"') inString = false;
                continue;
            }
            if (b == (byte)'"') { inString = true; output.Add(b); continue; }
            var literal = NonFiniteLiterals.FirstOrDefault(l => json.AsSpan(i).StartsWith(l));
            if (literal != null)
            {
                output.Add((byte)'"');
                output.AddRange(literal);
                output.Add((byte)'"');
                i += literal.Length - 1;
                continue;
            }
            output.Add(b);
        }
        return output.ToArray();
    }

    static readonly byte[][] NonFiniteLiterals = [.. new[] { "-Infinity", "Infinity", "NaN" }.Select(System.Text.Encoding.ASCII.GetBytes)];

    public static void Write<T>(string path, T config) =>
        File.WriteAllText(path, JsonSerializer.Serialize(config, Options));
}
