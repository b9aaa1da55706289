namespace LayoutGuidance.Evaluation;

/// <summary>
/// An axis-aligned box in normalised image coordinates, <c>[x0, y0, x1, y1]</c> in [0, 1], x along the
/// width, y along the height, origin top-left: the convention of the layout-guidance bboxes.
/// </summary>
public readonly record struct Box(double X0, double Y0, double X1, double Y1)
{
    public double Width => X1 - X0;
    public double Height => Y1 - Y0;
    public double Area => Math.Max(0, Width) * Math.Max(0, Height);
    public double CenterX => (X0 + X1) / 2;
    public double CenterY => (Y0 + Y1) / 2;

    /// <summary>A box from a pixel rectangle (end-exclusive) of an image of the given size.</summary>
    public static Box FromPixels(double x0, double y0, double x1, double y1, int width, int height) =>
        new(x0 / width, y0 / height, x1 / width, y1 / height);

    /// <summary>From <c>[x0, y0, x1, y1]</c>; throws when the array is not four ordered values in [0, 1].</summary>
    public static Box FromArray(IReadOnlyList<double> xyxy)
    {
        if (xyxy.Count != 4)
            throw new ArgumentException($"a box needs 4 values [x0, y0, x1, y1], got {xyxy.Count}", nameof(xyxy));
        var box = new Box(xyxy[0], xyxy[1], xyxy[2], xyxy[3]);
        if (!(box.X0 >= 0 && box.Y0 >= 0 && box.X1 <= 1 && box.Y1 <= 1 && box.X0 < box.X1 && box.Y0 < box.Y1))
            throw new ArgumentException($"box {box} must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1", nameof(xyxy));
        return box;
    }

    public double[] ToArray() => [X0, Y0, X1, Y1];

    public double Intersection(Box other) =>
        Math.Max(0, Math.Min(X1, other.X1) - Math.Max(X0, other.X0)) *
        Math.Max(0, Math.Min(Y1, other.Y1) - Math.Max(Y0, other.Y0));

    public double Iou(Box other)
    {
        var inter = Intersection(other);
        var union = Area + other.Area - inter;
        return union > 0 ? inter / union : 0;
    }

    /// <summary>Whether a point lies in the box (edges included).</summary>
    public bool Contains(double x, double y) => x >= X0 && x <= X1 && y >= Y0 && y <= Y1;

    public override string ToString() => $"[{X0:0.###}, {Y0:0.###}, {X1:0.###}, {Y1:0.###}]";
}
