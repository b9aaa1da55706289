using LayoutGuidance.Toy;

namespace LayoutGuidance.Evaluation;

/// <summary>
/// Classifies one blob by fitting every shape's silhouette to it, blur included. The blob is a soft
/// coverage map (chroma over the blob's peak chroma: over a grey background chroma is linear in
/// coverage). Blur keeps a blob's mass and centroid and adds σ² to its variances, so for each shape the
/// mass, centroid and variances fix its box and the blur; the shape whose blurred silhouette then
/// overlaps the coverage best (soft IoU) wins. Thresholding a blurred blob instead would round off
/// diamonds, triangle tips and cross arms until they look like circles.
/// </summary>
static class ShapeFit
{
    /// <summary>Per shape: area fraction of its box, centroid and variances in box units.</summary>
    readonly record struct Moments(double Fill, double MeanU, double MeanV, double VarU, double VarV);

    static readonly Dictionary<ShapeKind, Moments> ShapeMoments =
        Enum.GetValues<ShapeKind>().ToDictionary(s => s, MeasureMoments);

    // Sampling at pixel centres of an anti-aliased (box-filtered) image adds a pixel's own variance.
    const double PixelVariance = 1.0 / 12;

    /// <summary>
    /// The best shape for a coverage map of <paramref name="width"/>×<paramref name="height"/> pixels
    /// whose top-left pixel sits at (<paramref name="left"/>, <paramref name="top"/>) of the image.
    /// Returns the shape, its fitted box in pixels (x0, y0, x1, y1) and the soft IoU.
    /// </summary>
    public static (ShapeKind Shape, (double X0, double Y0, double X1, double Y1) Box, double Score) Fit(
        double[] coverage, int width, int height, int left, int top)
    {
        double mass = 0, sx = 0, sy = 0;
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
        {
            var a = coverage[y * width + x];
            mass += a; sx += a * x; sy += a * y;
        }
        double cx = sx / mass, cy = sy / mass, vx = 0, vy = 0;
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
        {
            var a = coverage[y * width + x];
            vx += a * (x - cx) * (x - cx); vy += a * (y - cy) * (y - cy);
        }
        vx = vx / mass - PixelVariance;
        vy = vy / mass - PixelVariance;

        var best = (Shape: ShapeKind.Circle, Box: (0.0, 0.0, 0.0, 0.0), Score: -1.0);
        var template = new double[coverage.Length];
        foreach (var (shape, m) in ShapeMoments)
        {
            var (w, h, blur) = SolveBoxAndBlur(m, mass, vx, vy);
            // Box in region pixel coordinates (pixel x covers [x, x+1), its centre is x + 0.5).
            var x0 = cx + 0.5 - m.MeanU * w;
            var y0 = cy + 0.5 - m.MeanV * h;
            Render(template, width, height, shape, x0, y0, w, h, blur);
            double both = 0, either = 0;
            for (var i = 0; i < coverage.Length; i++)
            {
                both += Math.Min(coverage[i], template[i]);
                either += Math.Max(coverage[i], template[i]);
            }
            var score = either > 0 ? both / either : 0;
            if (score > best.Score) best = (shape, (left + x0, top + y0, left + x0 + w, top + y0 + h), score);
        }
        return best;
    }

    /// <summary>
    /// Box side lengths w, h and blur σ with w·h·fill = mass and w²·VarU + σ² = vx, h²·VarV + σ² = vy.
    /// The mass shrinks as σ grows, so σ² is found by bisection; a blob too compact for the shape gets σ = 0.
    /// </summary>
    static (double W, double H, double Blur) SolveBoxAndBlur(Moments m, double mass, double vx, double vy)
    {
        double Size(double t, double v, double var) => Math.Sqrt(Math.Max(v - t, 1e-6) / var);
        double Excess(double t) => Size(t, vx, m.VarU) * Size(t, vy, m.VarV) * m.Fill - mass;
        double lo = 0, hi = Math.Max(0, Math.Min(vx, vy));
        if (Excess(lo) > 0)
        {
            for (var i = 0; i < 40; i++)
            {
                var mid = (lo + hi) / 2;
                if (Excess(mid) > 0) lo = mid; else hi = mid;
            }
        }
        return (Size(lo, vx, m.VarU), Size(lo, vy, m.VarV), Math.Sqrt(lo));
    }

    /// <summary>The shape's anti-aliased coverage in the box, blurred by a Gaussian of σ = blur.</summary>
    static void Render(double[] target, int width, int height, ShapeKind shape, double x0, double y0, double w, double h, double blur)
    {
        var scale = Math.Sqrt(w * h);
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
        {
            var distance = ShapeGeometry.SignedDistance(shape, (x + 0.5 - x0) / w, (y + 0.5 - y0) / h) * scale;
            target[y * width + x] = Math.Clamp(0.5 - distance, 0, 1);
        }
        if (blur < 0.25) return;
        var radius = (int)Math.Ceiling(3 * blur);
        var kernel = new double[2 * radius + 1];
        for (var i = -radius; i <= radius; i++) kernel[i + radius] = Math.Exp(-i * i / (2 * blur * blur));
        var sum = kernel.Sum();
        for (var i = 0; i < kernel.Length; i++) kernel[i] /= sum;
        var buffer = new double[target.Length];
        Convolve(target, buffer, width, height, kernel, 1, 0);
        Convolve(buffer, target, width, height, kernel, 0, 1);
    }

    /// <summary>One separable pass along (dx, dy), zero outside the region.</summary>
    static void Convolve(double[] source, double[] target, int width, int height, double[] kernel, int dx, int dy)
    {
        var radius = kernel.Length / 2;
        for (var y = 0; y < height; y++)
        for (var x = 0; x < width; x++)
        {
            double acc = 0;
            for (var i = -radius; i <= radius; i++)
            {
                int sx = x + i * dx, sy = y + i * dy;
                if (sx >= 0 && sy >= 0 && sx < width && sy < height) acc += kernel[i + radius] * source[sy * width + sx];
            }
            target[y * width + x] = acc;
        }
    }

    static Moments MeasureMoments(ShapeKind shape)
    {
        const int n = 512;
        double count = 0, su = 0, sv = 0, suu = 0, svv = 0;
        for (var j = 0; j < n; j++)
        for (var i = 0; i < n; i++)
        {
            double u = (i + 0.5) / n, v = (j + 0.5) / n;
            if (!ShapeGeometry.Contains(shape, u, v)) continue;
            count++; su += u; sv += v; suu += u * u; svv += v * v;
        }
        double mu = su / count, mv = sv / count;
        return new Moments(count / (n * n), mu, mv, suu / count - mu * mu, svv / count - mv * mv);
    }
}
