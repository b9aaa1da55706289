namespace LayoutGuidance.Guidance;

/// <summary>An object whose boxes are too small to cover any cell of an attention map's grid.</summary>
public sealed record UncoveredObject(string Phrase, MapGrid Grid)
{
    public override string ToString() =>
        $"the boxes of '{Phrase}' cover no cell of the {Grid} attention maps; there its energy term is a constant 1 with no gradient (enlarge the box to at least 1/{Math.Max(Grid.Height, Grid.Width)} of the image)";
}
