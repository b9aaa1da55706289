using LayoutGuidance.Toy;

namespace LayoutGuidance.Evaluation;

/// <summary>
/// One object found by <see cref="ShapeDetector"/>: its colour, its best-matching shape, the box of that
/// shape fitted to the blob (normalised), the blob's size in pixels (those at least half covered), and
/// the fit's soft IoU (1 = a perfect match; generated training images score 0.87–1, median 0.99; blurred, noisy ones 0.8–0.95).
/// </summary>
public sealed record Detection(ShapeColor Color, ShapeKind Shape, Box Box, int Pixels, double ShapeScore)
{
    public string Phrase => ShapeWords.Phrase(Color, Shape);
}
