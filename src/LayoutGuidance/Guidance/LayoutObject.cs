namespace LayoutGuidance.Guidance;

/// <summary>
/// One object of the layout: its phrase, the boxes it should fill (their union is its mask) and the
/// prompt token positions whose cross-attention is steered (indices into the 77-long input ids).
/// </summary>
public sealed record LayoutObject
{
    public string Phrase { get; }
    public IReadOnlyList<BoundingBox> Boxes { get; }
    public IReadOnlyList<int> TokenPositions { get; }

    public LayoutObject(string phrase, IReadOnlyList<BoundingBox> boxes, IReadOnlyList<int> tokenPositions)
    {
        if (string.IsNullOrWhiteSpace(phrase))
            throw new LayoutException("an object has an empty phrase; name every object with the words of the prompt it refers to");
        if (boxes.Count == 0)
            throw new LayoutException($"phrase '{phrase}' has no box; give at least one [x0, y0, x1, y1] per phrase", phrase);
        for (var i = 0; i < boxes.Count; i++) boxes[i].Validate(phrase, i);
        if (tokenPositions.Count == 0)
            throw new LayoutException($"phrase '{phrase}' has no token positions; its words must appear in the prompt", phrase);
        foreach (var p in tokenPositions)
            if (p < 1)
                throw new LayoutException($"phrase '{phrase}' has token position {p}; positions index the prompt's tokens after <|startoftext|> (1 and up)", phrase);
        Phrase = phrase;
        Boxes = boxes.ToArray();
        TokenPositions = tokenPositions.ToArray();
    }

    /// <summary>Throws unless every token position indexes a map with <paramref name="tokenCount"/> text tokens.</summary>
    internal void CheckTokenCount(long tokenCount)
    {
        foreach (var p in TokenPositions)
            if (p >= tokenCount)
                throw new LayoutException($"phrase '{Phrase}' has token position {p}, but the attention maps hold {tokenCount} text tokens", Phrase);
    }

    public bool Equals(LayoutObject? other) =>
        other is not null && Phrase == other.Phrase && Boxes.SequenceEqual(other.Boxes) && TokenPositions.SequenceEqual(other.TokenPositions);

    public override int GetHashCode() => HashCode.Combine(Phrase, Boxes.Count, TokenPositions.Count);
}
