namespace LayoutGuidance.Text;

/// <summary>
/// A prompt as the CLIP text encoder sees it: <see cref="InputIds"/> is
/// <c>&lt;|startoftext|&gt;</c>, at most <see cref="MaxLength"/> − 2 prompt tokens,
/// <c>&lt;|endoftext|&gt;</c>, then the pad token up to <see cref="MaxLength"/>, exactly as
/// <c>tokenizer(prompt, padding="max_length", max_length=model_max_length, truncation=True)</c>.
/// <see cref="Tokens"/>, <see cref="Pieces"/> and <see cref="UnpaddedIds"/> describe the whole prompt,
/// including what truncation dropped.
/// </summary>
public sealed class ClipEncoding
{
    internal ClipEncoding(ClipTokenizer tokenizer, string prompt, string normalizedText,
        IReadOnlyList<ClipPiece> pieces, IReadOnlyList<int> unpaddedIds, IReadOnlyList<int> inputIds)
    {
        Tokenizer = tokenizer;
        Prompt = prompt;
        NormalizedText = normalizedText;
        Pieces = pieces;
        Tokens = pieces.SelectMany(p => p.Tokens).ToArray();
        UnpaddedIds = unpaddedIds;
        InputIds = inputIds;
    }

    internal ClipTokenizer Tokenizer { get; }

    public string Prompt { get; }

    /// <summary>The cleaned, lower-cased text that was pre-tokenized (special tokens kept, set apart by spaces).</summary>
    public string NormalizedText { get; }

    public IReadOnlyList<ClipPiece> Pieces { get; }

    /// <summary>Every BPE token of the prompt, without start, end or padding, before truncation.</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>Start id, every prompt token id, end id: no truncation, no padding.</summary>
    public IReadOnlyList<int> UnpaddedIds { get; }

    /// <summary>The <see cref="MaxLength"/> ids the text encoder takes.</summary>
    public IReadOnlyList<int> InputIds { get; }

    public int MaxLength => InputIds.Count;

    /// <summary>Whether prompt tokens were dropped to fit <see cref="MaxLength"/>.</summary>
    public bool IsTruncated => UnpaddedIds.Count > MaxLength;

    /// <summary>Position of <c>&lt;|endoftext|&gt;</c> in <see cref="InputIds"/>.</summary>
    public int EndPosition => Math.Min(UnpaddedIds.Count, MaxLength) - 1;

    /// <summary>The prompt's tokens with their positions, for messages: "1 a&lt;/w&gt;, 2 photo&lt;/w&gt;, …".</summary>
    public string DescribeTokens() =>
        Tokens.Count == 0 ? "(none)" : string.Join(", ", Tokens.Select((t, i) => $"{i + 1} {t}"));
}
