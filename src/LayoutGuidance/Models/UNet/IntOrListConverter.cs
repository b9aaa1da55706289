using System.Text.Json;
using System.Text.Json.Serialization;

namespace LayoutGuidance.Models.UNet;

/// <summary>
/// diffusers configs write some per-block settings either as one int for every block or as a list
/// (attention_head_dim: 8 in SD1.5, [5, 10, 20, 20] in SD2.1); both read into a list, expanded later.
/// </summary>
public sealed class IntOrListConverter : JsonConverter<int[]>
{
    public override int[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Number) return [reader.GetInt32()];
        if (reader.TokenType != JsonTokenType.StartArray) throw new JsonException("expected an integer or a list of integers");
        var values = new List<int>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number) throw new JsonException("expected a list of integers");
            values.Add(reader.GetInt32());
        }
        return values.ToArray();
    }

    public override void Write(Utf8JsonWriter writer, int[] value, JsonSerializerOptions options)
    {
        if (value.Length == 1) { writer.WriteNumberValue(value[0]); return; }
        writer.WriteStartArray();
        foreach (var v in value) writer.WriteNumberValue(v);
        writer.WriteEndArray();
    }
}
