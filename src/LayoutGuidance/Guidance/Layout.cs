namespace LayoutGuidance.Guidance;

/// <summary>
/// What the user asks for: phrases and the boxes each phrase should occupy, validated, before the
/// prompt is tokenised. <see cref="WithTokenPositions"/> turns it into the <see cref="LayoutObject"/>s
/// the guidance works on.
/// </summary>
public sealed class Layout
{
    public IReadOnlyList<string> Phrases { get; }
    /// <summary>Boxes[k] are the boxes of Phrases[k]; several boxes per phrase are allowed.</summary>
    public IReadOnlyList<IReadOnlyList<BoundingBox>> Boxes { get; }

    Layout(IReadOnlyList<string> phrases, IReadOnlyList<IReadOnlyList<BoundingBox>> boxes)
    {
        Phrases = phrases;
        Boxes = boxes;
    }

    /// <summary>One entry of <paramref name="boxes"/> per phrase.</summary>
    public static Layout Create(IReadOnlyList<string> phrases, IReadOnlyList<IReadOnlyList<BoundingBox>> boxes)
    {
        phrases = phrases.Select(p => p.Trim()).ToArray();
        for (var k = 0; k < phrases.Count; k++)
            if (phrases[k].Length == 0)
                throw new LayoutException($"phrase {k} is empty; every phrase must name an object of the prompt (check for a doubled or trailing ';')");
        if (boxes.Count > phrases.Count)
            throw new LayoutException(
                $"{boxes.Count} box lists for {phrases.Count} phrases: box list {phrases.Count} ({string.Join(", ", boxes[phrases.Count])}) has no phrase; add its phrase or remove the boxes",
                boxIndex: phrases.Count);
        if (phrases.Count > boxes.Count)
            throw new LayoutException(
                $"phrase '{phrases[boxes.Count]}' has no box ({phrases.Count} phrases, {boxes.Count} box lists); give every phrase at least one [x0, y0, x1, y1]",
                phrases[boxes.Count]);
        for (var k = 0; k < phrases.Count; k++)
        {
            if (boxes[k].Count == 0)
                throw new LayoutException($"phrase '{phrases[k]}' has no box; give at least one [x0, y0, x1, y1] per phrase", phrases[k]);
            for (var i = 0; i < boxes[k].Count; i++) boxes[k][i].Validate(phrases[k], i);
        }
        return new Layout(phrases, boxes.Select(b => (IReadOnlyList<BoundingBox>)b.ToArray()).ToArray());
    }

    /// <summary>The reference's string form: phrases separated by ';' ("hello kitty; ball").</summary>
    public static Layout Parse(string phrases, IReadOnlyList<IReadOnlyList<BoundingBox>> boxes) =>
        Create(phrases.Split(';'), boxes);

    /// <summary>Binds each phrase to its prompt token positions (positions[k] for Phrases[k]).</summary>
    public IReadOnlyList<LayoutObject> WithTokenPositions(IReadOnlyList<IReadOnlyList<int>> positions)
    {
        if (positions.Count != Phrases.Count)
            throw new LayoutException($"{positions.Count} token-position lists for {Phrases.Count} phrases; give one list per phrase");
        return Phrases.Select((p, k) => new LayoutObject(p, Boxes[k], positions[k])).ToArray();
    }
}
