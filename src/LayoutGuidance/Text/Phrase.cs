namespace LayoutGuidance.Text;

/// <summary>
/// The prompt tokens that stand for one object: its words as written in the prompt (by default their
/// first occurrence), or explicit token positions (indices into the 77 input ids, 0 = start token).
/// A string converts to a phrase of those words.
/// </summary>
public sealed class Phrase
{
    private Phrase(string? text, int occurrence, IReadOnlyList<int>? positions)
    {
        Text = text;
        Occurrence = occurrence;
        Positions = positions;
    }

    /// <summary>The words, or null for explicit positions.</summary>
    public string? Text { get; }

    /// <summary>Which occurrence of <see cref="Text"/> in the prompt: 1 = first.</summary>
    public int Occurrence { get; }

    /// <summary>The explicit token positions, or null for words.</summary>
    public IReadOnlyList<int>? Positions { get; }

    /// <summary>Words of the prompt ("hello kitty"); <paramref name="occurrence"/> picks a repeated one (1 = first).</summary>
    public static Phrase Of(string text, int occurrence = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        ArgumentOutOfRangeException.ThrowIfLessThan(occurrence, 1);
        return new Phrase(text, occurrence, null);
    }

    /// <summary>Explicit token positions, used as given.</summary>
    public static Phrase At(params int[] positions)
    {
        if (positions.Length == 0) throw new ArgumentException("a phrase needs at least one token position", nameof(positions));
        return new Phrase(null, 1, positions.ToArray());
    }

    public static implicit operator Phrase(string text) => Of(text);

    /// <summary>The layout-guidance phrase list syntax: phrases separated by ';' ("hello kitty; ball").</summary>
    public static IReadOnlyList<Phrase> ParseList(string phrases) =>
        phrases.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(p => Of(p)).ToArray();

    public override string ToString() =>
        Text is null ? $"positions [{string.Join(", ", Positions!)}]"
        : Occurrence == 1 ? $"\"{Text}\""
        : $"\"{Text}\" (occurrence {Occurrence})";
}
