namespace LayoutGuidance.Text;

/// <summary>A phrase that does not resolve to token positions of its prompt, with the prompt's tokens.</summary>
public sealed class PhraseTokensException(Phrase phrase, string message) : Exception(message)
{
    public Phrase Phrase { get; } = phrase;
}

/// <summary>
/// Resolves phrases to the token positions the layout loss reads in the cross-attention maps
/// (indices into the input ids, 0 = <c>&lt;|startoftext|&gt;</c>). A phrase is cleaned and
/// pre-tokenized like the prompt and matched piece by piece, so a word that BPE splits gives all of
/// its tokens ("chopsticks" → "chop", "sticks&lt;/w&gt;") and several words give all of theirs.
/// </summary>
public static class PhraseTokens
{
    public static IReadOnlyList<int[]> Locate(ClipEncoding prompt, IEnumerable<Phrase> phrases) =>
        phrases.Select(p => Locate(prompt, p)).ToArray();

    public static int[] Locate(ClipEncoding prompt, Phrase phrase)
    {
        var positions = phrase.Text is null ? Explicit(prompt, phrase) : Find(prompt, phrase, phrase.Text);
        var lastPromptPosition = prompt.MaxLength - 2;
        if (phrase.Text is not null && positions.Any(p => p > lastPromptPosition))
            throw new PhraseTokensException(phrase,
                $"phrase {phrase} is at token positions [{string.Join(", ", positions)}], beyond the {prompt.MaxLength}-token " +
                $"limit: only positions 1–{lastPromptPosition} hold prompt tokens. Shorten the prompt or name an earlier occurrence.");
        return positions;
    }

    private static int[] Explicit(ClipEncoding prompt, Phrase phrase)
    {
        var positions = phrase.Positions!.ToArray();
        if (positions.Any(p => p < 0 || p >= prompt.MaxLength))
            throw new PhraseTokensException(phrase,
                $"phrase {phrase}: token positions must lie in 0–{prompt.MaxLength - 1}. The prompt's tokens are: {prompt.DescribeTokens()}");
        return positions;
    }

    private static int[] Find(ClipEncoding prompt, Phrase phrase, string text)
    {
        var wanted = prompt.Tokenizer.PieceTexts(text);
        if (wanted.Count == 0)
            throw new PhraseTokensException(phrase, $"phrase {phrase} has no tokens once cleaned up like the prompt");
        var pieces = prompt.Pieces;
        var starts = Enumerable.Range(0, Math.Max(0, pieces.Count - wanted.Count + 1))
            .Where(s => wanted.Select((w, k) => pieces[s + k].Text == w).All(same => same))
            .ToArray();
        if (starts.Length == 0)
            throw new PhraseTokensException(phrase,
                $"phrase {phrase} is not in the prompt \"{prompt.Prompt}\". Its tokens are: {prompt.DescribeTokens()}. " +
                "Use words as the prompt spells them, or explicit positions (Phrase.At).");
        if (phrase.Occurrence > starts.Length)
            throw new PhraseTokensException(phrase,
                $"phrase {phrase}: \"{text}\" occurs {starts.Length} time(s) in the prompt \"{prompt.Prompt}\". " +
                $"Its tokens are: {prompt.DescribeTokens()}");
        var start = starts[phrase.Occurrence - 1];
        return Enumerable.Range(start, wanted.Count).SelectMany(i => pieces[i].Positions).ToArray();
    }
}
