using LayoutGuidance.Evaluation;

namespace LayoutGuidance.Toy;

/// <summary>One object of a shapes image: what it is and where (its square box, normalised).</summary>
public sealed record ShapeObject(ShapeColor Color, ShapeKind Shape, Box Box)
{
    public string Phrase => ShapeWords.Phrase(Color, Shape);
}
