using LayoutGuidance.Text;

namespace LayoutGuidance.Guidance;

/// <summary>
/// Where each phrase of the prompt should appear and how to steer it there. Phrases are words of the
/// prompt (resolved to token positions by the tokenizer, sub-word aware) or explicit positions
/// (<see cref="Phrase.At"/>); each phrase has one or more normalised boxes [x0, y0, x1, y1], origin top-left.
/// </summary>
public sealed record LayoutRequest
{
    public required IReadOnlyList<Phrase> Phrases { get; init; }
    public required IReadOnlyList<IReadOnlyList<BoundingBox>> Boxes { get; init; }
    public GuidanceMode Mode { get; init; } = GuidanceMode.Backward;
    /// <summary>null = the model's defaults (the paper's for SD, the model folder's layout_guidance.json otherwise).</summary>
    public BackwardGuidanceOptions? Backward { get; init; }
    /// <summary>Required with <see cref="GuidanceMode.Forward"/>.</summary>
    public ForwardGuidanceOptions? Forward { get; init; }

    /// <summary>The original code's string form: phrases separated by ';', one box list per phrase.</summary>
    public static LayoutRequest Parse(string phrases, IReadOnlyList<IReadOnlyList<BoundingBox>> boxes, GuidanceMode mode = GuidanceMode.Backward) =>
        new() { Phrases = Phrase.ParseList(phrases), Boxes = boxes, Mode = mode };

    /// <summary>Binds phrases to the prompt's token positions; every mismatch is a <see cref="LayoutException"/> or <see cref="PhraseTokensException"/>.</summary>
    public IReadOnlyList<LayoutObject> Resolve(ClipEncoding prompt)
    {
        if (Phrases.Count != Boxes.Count)
            throw new LayoutException(Phrases.Count > Boxes.Count
                ? $"phrase '{Phrases[Boxes.Count]}' has no box: give one box list per phrase ({Phrases.Count} phrases, {Boxes.Count} box lists)"
                : $"box list {Phrases.Count} has no phrase: give one phrase per box list ({Phrases.Count} phrases, {Boxes.Count} box lists)");
        var positions = PhraseTokens.Locate(prompt, Phrases);
        return Phrases.Select((p, k) => new LayoutObject(p.ToString(), Boxes[k], positions[k])).ToList();
    }
}
