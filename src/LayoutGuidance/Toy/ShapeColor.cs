namespace LayoutGuidance.Toy;

/// <summary>Object colours of the shapes data, 60° apart in hue (red at 0°, in hue order).</summary>
public enum ShapeColor
{
    Red,
    Yellow,
    Green,
    Cyan,
    Blue,
    Magenta,
}
