namespace LayoutGuidance.Toy;

/// <summary>
/// The caption language of the shapes data: an object phrase is "colour shape" ("red circle"), a
/// caption lists the objects with "a" ("a red circle", "a red circle and a blue square",
/// "a red circle, a blue square and a green triangle") and never says where they are.
/// </summary>
public static class ShapeWords
{
    public static string Word(this ShapeColor color) => color.ToString().ToLowerInvariant();

    public static string Word(this ShapeKind shape) => shape.ToString().ToLowerInvariant();

    public static string Phrase(ShapeColor color, ShapeKind shape) => $"{color.Word()} {shape.Word()}";

    static readonly Dictionary<string, ShapeColor> Colors = Enum.GetValues<ShapeColor>().ToDictionary(c => c.Word());
    static readonly Dictionary<string, ShapeKind> Shapes = Enum.GetValues<ShapeKind>().ToDictionary(s => s.Word());

    /// <summary>Every word a caption can contain (punctuation aside).</summary>
    public static IReadOnlyList<string> CaptionWords { get; } =
        ["a", "and", .. Enum.GetValues<ShapeColor>().Select(Word), .. Enum.GetValues<ShapeKind>().Select(Word)];

    /// <summary>Reads "colour shape" (case and surrounding spaces ignored, an article allowed).</summary>
    public static (ShapeColor Color, ShapeKind Shape) ParsePhrase(string phrase)
    {
        var words = phrase.Trim().ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 3 && words[0] == "a") words = words[1..];
        if (words.Length == 2 && Colors.TryGetValue(words[0], out var color) && Shapes.TryGetValue(words[1], out var shape))
            return (color, shape);
        throw new ArgumentException(
            $"'{phrase}' is not a shapes phrase: expected \"<colour> <shape>\" with colour one of " +
            $"{string.Join(", ", Colors.Keys)} and shape one of {string.Join(", ", Shapes.Keys)}", nameof(phrase));
    }

    /// <summary>The caption naming the phrases in the given order.</summary>
    public static string Caption(IReadOnlyList<string> phrases)
    {
        if (phrases.Count == 0) throw new ArgumentException("a caption needs at least one phrase", nameof(phrases));
        var items = phrases.Select(p => "a " + p).ToList();
        return items.Count == 1
            ? items[0]
            : string.Join(", ", items.Take(items.Count - 1)) + " and " + items[^1];
    }
}
