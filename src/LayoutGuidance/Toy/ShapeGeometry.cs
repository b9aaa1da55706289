namespace LayoutGuidance.Toy;

/// <summary>
/// The silhouette of every <see cref="ShapeKind"/> inside its box, as a signed distance in units of
/// the box side (negative inside; exact along edges, approximate near outer corners, which is all
/// anti-aliasing needs). The generator draws these and the detector matches against them, so both
/// agree on what each shape is. (u, v) are box coordinates: (0, 0) top-left, (1, 1) bottom-right.
/// </summary>
public static class ShapeGeometry
{
    /// <summary>Half the width of a cross's arms, as a fraction of the box side.</summary>
    public const double CrossArmHalfWidth = 0.16;

    const double InvSqrt2 = 0.70710678118654752;
    const double InvSqrt5 = 0.44721359549995794;

    public static double SignedDistance(ShapeKind shape, double u, double v)
    {
        var x = Math.Abs(u - 0.5);
        var y = Math.Abs(v - 0.5);
        return shape switch
        {
            ShapeKind.Circle => Math.Sqrt(x * x + y * y) - 0.5,
            ShapeKind.Square => Math.Max(x, y) - 0.5,
            ShapeKind.Diamond => (x + y - 0.5) * InvSqrt2,
            // Apex at the top centre, base along the bottom edge.
            ShapeKind.Triangle => Math.Max((2 * x - v) * InvSqrt5, v - 1),
            ShapeKind.Cross => Math.Min(Math.Max(x - CrossArmHalfWidth, y - 0.5), Math.Max(x - 0.5, y - CrossArmHalfWidth)),
            _ => throw new ArgumentOutOfRangeException(nameof(shape), shape, "unknown shape"),
        };
    }

    public static bool Contains(ShapeKind shape, double u, double v) => SignedDistance(shape, u, v) <= 0;
}
