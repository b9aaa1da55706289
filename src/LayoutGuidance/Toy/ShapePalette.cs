namespace LayoutGuidance.Toy;

/// <summary>
/// The hue of every <see cref="ShapeColor"/> and the conversions the generator and the detector share:
/// a colour is named by its hue alone, so blur towards the grey background (which lowers saturation
/// but keeps hue) does not change the name.
/// </summary>
public static class ShapePalette
{
    public const double HueStep = 360.0 / 6;

    public static double Hue(ShapeColor color) => HueStep * (int)color;

    /// <summary>The palette colour nearest to a hue in degrees (any real value; wraps around 360).</summary>
    public static ShapeColor Nearest(double hueDegrees)
    {
        var index = (int)Math.Round(Wrap(hueDegrees) / HueStep, MidpointRounding.AwayFromZero) % 6;
        return (ShapeColor)index;
    }

    /// <summary>HSV hue in degrees [0, 360) of an RGB triple; 0 for greys.</summary>
    public static double HueOf(double r, double g, double b)
    {
        var max = Math.Max(r, Math.Max(g, b));
        var chroma = max - Math.Min(r, Math.Min(g, b));
        if (chroma <= 0) return 0;
        double sector = max == r ? (g - b) / chroma : max == g ? (b - r) / chroma + 2 : (r - g) / chroma + 4;
        return Wrap(60 * sector);
    }

    /// <summary>HSV to RGB, all in [0, 1] except the hue in degrees. Pure arithmetic, so bit-identical everywhere.</summary>
    internal static (double R, double G, double B) FromHsv(double hueDegrees, double saturation, double value)
    {
        var h = Wrap(hueDegrees) / 60;
        var sector = (int)h;
        var f = h - sector;
        var p = value * (1 - saturation);
        var q = value * (1 - saturation * f);
        var t = value * (1 - saturation * (1 - f));
        return sector switch
        {
            0 => (value, t, p),
            1 => (q, value, p),
            2 => (p, value, t),
            3 => (p, q, value),
            4 => (t, p, value),
            _ => (value, p, q),
        };
    }

    static double Wrap(double degrees)
    {
        var d = degrees % 360;
        return d < 0 ? d + 360 : d;
    }
}
