namespace LayoutGuidance.Toy;

/// <summary>Object shapes of the shapes data; silhouettes in <see cref="ShapeGeometry"/>.</summary>
public enum ShapeKind
{
    Circle,
    Square,
    Triangle,
    Diamond,
    Cross,
}
