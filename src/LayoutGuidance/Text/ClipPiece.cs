namespace LayoutGuidance.Text;

/// <summary>
/// One pre-tokenized piece of the normalised prompt (a word, a digit, a punctuation run or a special
/// token) with the BPE tokens it became and their positions in the untruncated ids
/// (0 = <c>&lt;|startoftext|&gt;</c>).
/// </summary>
public sealed record ClipPiece(string Text, IReadOnlyList<string> Tokens, IReadOnlyList<int> Positions);
