using System.Text.Json;
using System.Text.Json.Serialization;

namespace LayoutGuidance.Text;

/// <summary>
/// The special tokens and length of a CLIP tokenizer: <c>tokenizer_config.json</c>, overridden key by
/// key by <c>special_tokens_map.json</c>, as transformers loads them. Defaults are
/// <c>CLIPTokenizer</c>'s; a missing <c>model_max_length</c> is 77, the CLIP text encoders' number
/// of positions. SD1.x and SDXL's <c>tokenizer</c> pad with <c>&lt;|endoftext|&gt;</c>; SD2.x and
/// SDXL's <c>tokenizer_2</c> pad with <c>!</c>.
/// </summary>
public sealed record ClipTokenizerConfig
{
    [JsonConverter(typeof(AddedTokenContent))] public string BosToken { get; init; } = "<|startoftext|>";
    [JsonConverter(typeof(AddedTokenContent))] public string EosToken { get; init; } = "<|endoftext|>";
    [JsonConverter(typeof(AddedTokenContent))] public string UnkToken { get; init; } = "<|endoftext|>";
    [JsonConverter(typeof(AddedTokenContent))] public string PadToken { get; init; } = "<|endoftext|>";
    public int ModelMaxLength { get; init; } = 77;

    /// <summary>Reads a tokenizer folder's configs; either file may be absent.</summary>
    public static ClipTokenizerConfig Read(string folder)
    {
        var configFile = Path.Combine(folder, "tokenizer_config.json");
        var config = File.Exists(configFile) ? Weights.DiffusersConfig.Read<ClipTokenizerConfig>(configFile) : new();
        var mapFile = Path.Combine(folder, "special_tokens_map.json");
        if (!File.Exists(mapFile)) return config;
        var map = Weights.DiffusersConfig.Read<SpecialTokensMap>(mapFile);
        return config with
        {
            BosToken = map.BosToken ?? config.BosToken,
            EosToken = map.EosToken ?? config.EosToken,
            UnkToken = map.UnkToken ?? config.UnkToken,
            PadToken = map.PadToken ?? config.PadToken,
        };
    }

    private sealed record SpecialTokensMap
    {
        [JsonConverter(typeof(AddedTokenContent))] public string? BosToken { get; init; }
        [JsonConverter(typeof(AddedTokenContent))] public string? EosToken { get; init; }
        [JsonConverter(typeof(AddedTokenContent))] public string? UnkToken { get; init; }
        [JsonConverter(typeof(AddedTokenContent))] public string? PadToken { get; init; }
    }

    /// <summary>A special token written either as a string or as an AddedToken object with a "content" key.</summary>
    private sealed class AddedTokenContent : JsonConverter<string>
    {
        public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.String:
                    return reader.GetString();
                case JsonTokenType.StartObject:
                    using (var doc = JsonDocument.ParseValue(ref reader))
                    {
                        if (doc.RootElement.TryGetProperty("content", out var content)
                            && content.ValueKind == JsonValueKind.String)
                            return content.GetString();
                    }
                    throw new JsonException("an AddedToken object needs a string \"content\"");
                default:
                    throw new JsonException($"expected a token string or an AddedToken object, found {reader.TokenType}");
            }
        }

        public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value);
    }
}
