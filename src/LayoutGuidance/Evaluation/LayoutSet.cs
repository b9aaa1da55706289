using System.Text.Json;

namespace LayoutGuidance.Evaluation;

/// <summary>One benchmark entry: the prompt, the phrases to place, and one target box per phrase.</summary>
public sealed record LayoutSpec(string Id, string Prompt, IReadOnlyList<string> Phrases, IReadOnlyList<Box> Boxes);

/// <summary>A layout file that cannot be used: the file, where in it, and what is wrong.</summary>
public sealed class LayoutSetException(string path, string reason) : Exception($"{path}: {reason}")
{
    public string FilePath { get; } = path;
}

/// <summary>
/// Reads a layout set, a JSON file of the form
/// <code>
/// { "description": "…",
///   "layouts": [ { "id": "pair-left-00", "prompt": "a red circle and a blue square",
///                  "phrases": ["red circle", "blue square"],
///                  "boxes": [[0.06, 0.31, 0.44, 0.69], [0.56, 0.31, 0.94, 0.69]] } ] }
/// </code>
/// Boxes are <c>[x0, y0, x1, y1]</c>, normalised, origin top-left, one per phrase in the same order;
/// every phrase must occur in its prompt (its tokens are the ones guidance steers). Ids are unique.
/// </summary>
public static class LayoutSet
{
    public static IReadOnlyList<LayoutSpec> Read(string path)
    {
        if (!File.Exists(path)) throw new LayoutSetException(path, "file not found");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new LayoutSetException(path, $"not valid JSON: {e.Message}");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("layouts", out var layouts) || layouts.ValueKind != JsonValueKind.Array)
                throw new LayoutSetException(path, "expected an object with a \"layouts\" array");
            var specs = new List<LayoutSpec>();
            var ids = new HashSet<string>();
            var index = 0;
            foreach (var entry in layouts.EnumerateArray())
            {
                var spec = ReadEntry(path, $"layouts[{index++}]", entry);
                if (!ids.Add(spec.Id)) throw new LayoutSetException(path, $"id '{spec.Id}' appears twice");
                specs.Add(spec);
            }
            return specs;
        }
    }

    static LayoutSpec ReadEntry(string path, string where, JsonElement entry)
    {
        LayoutSetException Error(string reason) => new(path, $"{where}: {reason}");
        string Text(string key) =>
            entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String
            && v.GetString() is { Length: > 0 } s ? s : throw Error($"needs a non-empty string \"{key}\"");
        JsonElement.ArrayEnumerator Array(string key) =>
            entry.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : throw Error($"needs an array \"{key}\"");

        var id = Text("id");
        var prompt = Text("prompt");
        var phrases = Array("phrases")
            .Select(p => p.ValueKind == JsonValueKind.String && p.GetString() is { Length: > 0 } s ? s : throw Error("phrases must be non-empty strings"))
            .ToList();
        var boxes = Array("boxes").Select((b, i) =>
        {
            if (b.ValueKind != JsonValueKind.Array || b.EnumerateArray().Any(v => v.ValueKind != JsonValueKind.Number))
                throw Error($"boxes[{i}] must be an array of numbers [x0, y0, x1, y1]");
            try { return Box.FromArray(b.EnumerateArray().Select(v => v.GetDouble()).ToArray()); }
            catch (ArgumentException e) { throw Error($"boxes[{i}]: {e.Message}"); }
        }).ToList();
        if (phrases.Count == 0) throw Error("needs at least one phrase");
        if (phrases.Count != boxes.Count) throw Error($"has {phrases.Count} phrases but {boxes.Count} boxes; give one box per phrase");
        foreach (var phrase in phrases)
            if (!prompt.Contains(phrase, StringComparison.OrdinalIgnoreCase))
                throw Error($"phrase '{phrase}' does not occur in the prompt '{prompt}'");
        return new LayoutSpec(id, prompt, phrases, boxes);
    }
}
