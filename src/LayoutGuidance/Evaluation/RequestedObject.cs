using LayoutGuidance.Toy;

namespace LayoutGuidance.Evaluation;

/// <summary>An object the prompt asks for, and the box layout guidance was told to put it in.</summary>
public sealed record RequestedObject(ShapeColor Color, ShapeKind Shape, Box Target)
{
    public string Phrase => ShapeWords.Phrase(Color, Shape);

    /// <summary>From a "colour shape" phrase; throws <see cref="ArgumentException"/> naming the phrase when it is not one.</summary>
    public static RequestedObject Parse(string phrase, Box target)
    {
        var (color, shape) = ShapeWords.ParsePhrase(phrase);
        return new RequestedObject(color, shape, target);
    }
}
