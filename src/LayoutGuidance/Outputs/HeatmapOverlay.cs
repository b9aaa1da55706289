using LayoutGuidance.Guidance;

namespace LayoutGuidance.Outputs;

/// <summary>
/// A phrase's aggregated cross-attention map over its image: bilinearly upsampled, normalised to its
/// maximum, coloured (dark blue → red → yellow), blended at half opacity, with the phrase's boxes outlined.
/// </summary>
public static class HeatmapOverlay
{
    public static byte[] Render(ReadOnlySpan<byte> rgb, int width, int height, PhraseAttentionSummary phrase)
    {
        var output = rgb.ToArray();
        var map = phrase.Heatmap;
        var max = map.Length == 0 ? 0f : map.Max();
        var scale = max > 0 ? 1f / max : 0f;
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
        {
            var v = Sample(map, phrase.Width, phrase.Height, (x + 0.5) / width, (y + 0.5) / height) * scale;
            var (r, g, b) = Colour(v);
            var i = (y * width + x) * 3;
            output[i] = (byte)((output[i] + r) / 2);
            output[i + 1] = (byte)((output[i + 1] + g) / 2);
            output[i + 2] = (byte)((output[i + 2] + b) / 2);
        }
        var thickness = Math.Max(1, Math.Min(width, height) / 128);
        foreach (var box in phrase.Boxes) Outline(output, width, height, box, thickness);
        return output;
    }

    /// <summary>Writes one overlay per phrase as <c>{prefix}-{k}.png</c> and returns the paths.</summary>
    public static IReadOnlyList<string> SaveAll(string folder, string prefix, ReadOnlySpan<byte> rgb, int width, int height, IReadOnlyList<PhraseAttentionSummary> phrases)
    {
        var paths = new List<string>();
        for (int k = 0; k < phrases.Count; k++)
        {
            var path = Path.Combine(folder, $"{prefix}-{k}.png");
            Png.Save(path, Render(rgb, width, height, phrases[k]), width, height);
            paths.Add(path);
        }
        return paths;
    }

    // Cell-centred bilinear sampling, clamped at the edges (align_corners = false).
    static float Sample(float[] map, int w, int h, double u, double v)
    {
        var fx = Math.Clamp(u * w - 0.5, 0, w - 1);
        var fy = Math.Clamp(v * h - 0.5, 0, h - 1);
        int x0 = (int)fx, y0 = (int)fy, x1 = Math.Min(x0 + 1, w - 1), y1 = Math.Min(y0 + 1, h - 1);
        double ax = fx - x0, ay = fy - y0;
        double top = map[y0 * w + x0] * (1 - ax) + map[y0 * w + x1] * ax;
        double bottom = map[y1 * w + x0] * (1 - ax) + map[y1 * w + x1] * ax;
        return (float)(top * (1 - ay) + bottom * ay);
    }

    static (int R, int G, int B) Colour(float v)
    {
        v = Math.Clamp(v, 0f, 1f);
        // Piecewise-linear through navy, red and yellow: readable on both dark and light images.
        return v < 0.5f
            ? ((int)(255 * 2 * v), 0, (int)(128 * (1 - 2 * v)))
            : (255, (int)(255 * (2 * v - 1)), 0);
    }

    static void Outline(byte[] rgb, int width, int height, BoundingBox box, int thickness)
    {
        int x0 = (int)(box.X0 * width), x1 = Math.Min(width - 1, (int)(box.X1 * width)), y0 = (int)(box.Y0 * height), y1 = Math.Min(height - 1, (int)(box.Y1 * height));
        for (int t = 0; t < thickness; t++)
        {
            for (int x = x0; x <= x1; x++) { White(rgb, width, x, Math.Min(y0 + t, y1)); White(rgb, width, x, Math.Max(y1 - t, y0)); }
            for (int y = y0; y <= y1; y++) { White(rgb, width, Math.Min(x0 + t, x1), y); White(rgb, width, Math.Max(x1 - t, x0), y); }
        }
    }

    static void White(byte[] rgb, int width, int x, int y)
    {
        var i = (y * width + x) * 3;
        rgb[i] = rgb[i + 1] = rgb[i + 2] = 255;
    }
}
