namespace LayoutGuidance.Guidance;

/// <summary>
/// A layout that cannot be guided: a bad box, a phrase without boxes, boxes without a phrase, or token
/// positions that do not fit the prompt. <see cref="Phrase"/> and <see cref="BoxIndex"/> name the culprit
/// where there is one.
/// </summary>
public sealed class LayoutException(string message, string? phrase = null, int? boxIndex = null)
    : ArgumentException(message)
{
    public string? Phrase { get; } = phrase;
    public int? BoxIndex { get; } = boxIndex;
}
