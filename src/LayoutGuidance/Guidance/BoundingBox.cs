namespace LayoutGuidance.Guidance;

/// <summary>
/// A box in normalised image coordinates, origin top-left, x along the width: [x0, y0, x1, y1].
/// Doubles, because the reference rasterises with Python floats: int(0.6 * 16) must truncate the same way here.
/// </summary>
public readonly record struct BoundingBox(double X0, double Y0, double X1, double Y1)
{
    /// <summary>From the reference's list form [x0, y0, x1, y1].</summary>
    public static BoundingBox FromArray(IReadOnlyList<double> xyxy) =>
        xyxy.Count == 4
            ? new BoundingBox(xyxy[0], xyxy[1], xyxy[2], xyxy[3])
            : throw new LayoutException($"a box needs 4 numbers [x0, y0, x1, y1], got {xyxy.Count}: [{string.Join(", ", xyxy)}]");

    /// <summary>Throws a <see cref="LayoutException"/> naming the phrase and box unless 0 ≤ x0 &lt; x1 ≤ 1 and 0 ≤ y0 &lt; y1 ≤ 1.</summary>
    public void Validate(string phrase, int boxIndex)
    {
        string? problem =
            double.IsNaN(X0) || double.IsNaN(Y0) || double.IsNaN(X1) || double.IsNaN(Y1) ? "holds NaN"
            : X0 < 0 || Y0 < 0 || X1 > 1 || Y1 > 1 ? "leaves the image; coordinates are fractions of the image size in [0, 1]"
            : X0 >= X1 ? "has x0 >= x1; give [x0, y0, x1, y1] with x0 < x1 (left edge first)"
            : Y0 >= Y1 ? "has y0 >= y1; give [x0, y0, x1, y1] with y0 < y1 (top edge first, y grows downwards)"
            : null;
        if (problem is not null)
            throw new LayoutException($"box {boxIndex} {this} of phrase '{phrase}' {problem}", phrase, boxIndex);
    }

    /// <summary>
    /// The cells [row0, row1) × [col0, col1) the box covers on a height × width map, exactly as the
    /// reference's <c>mask[int(y0·H):int(y1·H), int(x0·W):int(x1·W)] = 1</c> (truncation, end-exclusive).
    /// A box narrower than a cell can cover nothing.
    /// </summary>
    public (int Row0, int Row1, int Col0, int Col1) Cells(int height, int width) =>
        ((int)(Y0 * height), (int)(Y1 * height), (int)(X0 * width), (int)(X1 * width));

    public override string ToString() => $"[{X0}, {Y0}, {X1}, {Y1}]";
}
