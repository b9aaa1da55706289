using LayoutGuidance.Toy;

namespace LayoutGuidance.Evaluation;

/// <summary>
/// A classical detector for shapes images, used to score generated images: colour segmentation by hue,
/// connected components, then shape and box by fitting every silhouette to the blob (<see cref="ShapeFit"/>).
/// Blobs are found in two passes: seeded by a fixed chroma threshold, then each seed is re-cut at a
/// fraction of its own peak chroma, which puts its edge at half coverage whatever the blur or
/// saturation and splits objects that blur had joined.
/// </summary>
public sealed class ShapeDetector(ShapeDetectorOptions? options = null)
{
    const sbyte Background = -1;
    const double PeakQuantile = 0.9;
    // How far blurred tails reach beyond a blob's half-coverage edge (3σ for σ = 1), and a ring beyond that for the background.
    const int TailReach = 3;
    const int RegionMargin = TailReach + 2;
    const double BackgroundQuantile = 0.75;
    const int MinDeepPixels = 4;

    readonly ShapeDetectorOptions options = options ?? new ShapeDetectorOptions();

    /// <summary>
    /// Every object in a row-major RGB image (3 bytes per pixel), largest first. The detector is not
    /// told what was requested, so it cannot be biased towards the prompt; matching detections to the
    /// requested objects is <see cref="LayoutMetrics"/>' job.
    /// </summary>
    public IReadOnlyList<Detection> Detect(ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (width <= 0 || height <= 0 || rgb.Length != width * height * 3)
            throw new ArgumentException($"an RGB image of {width}×{height} needs {width * height * 3} bytes, got {rgb.Length}", nameof(rgb));
        var count = width * height;
        var chroma = new double[count];
        var hues = new sbyte[count];
        for (var i = 0; i < count; i++)
        {
            double r = rgb[3 * i] / 255.0, g = rgb[3 * i + 1] / 255.0, b = rgb[3 * i + 2] / 255.0;
            chroma[i] = Math.Max(r, Math.Max(g, b)) - Math.Min(r, Math.Min(g, b));
            hues[i] = chroma[i] > 0 ? (sbyte)ShapePalette.Nearest(ShapePalette.HueOf(r, g, b)) : Background;
        }
        var seeds = new sbyte[count];
        for (var i = 0; i < count; i++) seeds[i] = chroma[i] >= options.SeedChroma ? hues[i] : Background;

        var cut = new sbyte[count];
        Array.Fill(cut, Background);
        foreach (var seed in Components(seeds, width, height))
        {
            var edge = Math.Max(options.SeedChroma, options.EdgeFraction * Quantile(seed.Select(i => chroma[i]).ToList(), PeakQuantile));
            foreach (var i in seed)
                if (chroma[i] >= edge) cut[i] = seeds[i];
        }

        var owner = new int[count];
        Array.Fill(owner, -1);
        var blobs = Components(cut, width, height);
        for (var k = 0; k < blobs.Count; k++)
            foreach (var i in blobs[k]) owner[i] = k;
        var detections = new List<Detection>();
        for (var k = 0; k < blobs.Count; k++)
        {
            var blob = blobs[k];
            if (InteriorPixels(blob, owner, k, width, height) < options.MinInteriorPixels) continue;
            int x0 = width, y0 = height, x1 = 0, y1 = 0;
            foreach (var i in blob)
            {
                int x = i % width, y = i / width;
                x0 = Math.Min(x0, x); y0 = Math.Min(y0, y);
                x1 = Math.Max(x1, x + 1); y1 = Math.Max(y1, y + 1);
            }
            x0 = Math.Max(0, x0 - RegionMargin); y0 = Math.Max(0, y0 - RegionMargin);
            x1 = Math.Min(width, x1 + RegionMargin); y1 = Math.Min(height, y1 + RegionMargin);
            var coverage = Coverage(k, blob, owner, chroma, hues, seeds, width, height, x0, y0, x1, y1);
            var (shape, box, score) = ShapeFit.Fit(coverage, x1 - x0, y1 - y0, x0, y0);
            var clipped = Box.FromPixels(Math.Max(0, box.X0), Math.Max(0, box.Y0), Math.Min(width, box.X1), Math.Min(height, box.Y1), width, height);
            detections.Add(new Detection((ShapeColor)cut[blob[0]], shape, clipped, blob.Length, score));
        }
        return [.. detections.OrderByDescending(d => d.Pixels)];
    }

    /// <summary>
    /// The blob's soft coverage in its region: chroma over the blob's full-coverage chroma for pixels of
    /// its colour within <see cref="TailReach"/> pixels of it (its blurred tails), and zero elsewhere and
    /// where the chroma is no higher than the background's own (tint, noise), measured on the region's
    /// pixels beyond that reach. Coverage is not clamped at 1, so noise averages out in the blob's mass.
    /// </summary>
    static double[] Coverage(int k, int[] blob, int[] owner, double[] chroma, sbyte[] hues, sbyte[] seeds,
        int width, int height, int x0, int y0, int x1, int y1)
    {
        int w = x1 - x0, h = y1 - y0;
        var distance = DistanceToBlob(k, owner, width, x0, y0, w, h);
        var far = new List<double>();
        for (var y = 0; y < h; y++)
        for (var x = 0; x < w; x++)
            if (distance[y * w + x] > TailReach && seeds[(y0 + y) * width + x0 + x] == Background)
                far.Add(chroma[(y0 + y) * width + x0 + x]);
        var floor = Quantile(far, BackgroundQuantile);
        var full = FullCoverageChroma(k, blob, owner, chroma, width, height);
        var color = hues[blob[0]];
        var coverage = new double[w * h];
        for (var y = 0; y < h; y++)
        for (var x = 0; x < w; x++)
        {
            var i = (y0 + y) * width + x0 + x;
            var near = owner[i] == k || (owner[i] == -1 && distance[y * w + x] <= TailReach && hues[i] == color && chroma[i] > floor);
            if (near) coverage[y * w + x] = chroma[i] / full;
        }
        return coverage;
    }

    /// <summary>Chebyshev distance of every region pixel to the blob, capped at <see cref="TailReach"/> + 1.</summary>
    static int[] DistanceToBlob(int k, int[] owner, int width, int x0, int y0, int w, int h)
    {
        var distance = new int[w * h];
        Array.Fill(distance, TailReach + 1);
        for (var y = 0; y < h; y++)
        for (var x = 0; x < w; x++)
        {
            if (owner[(y0 + y) * width + x0 + x] != k) continue;
            for (var dy = -TailReach; dy <= TailReach; dy++)
            for (var dx = -TailReach; dx <= TailReach; dx++)
            {
                int nx = x + dx, ny = y + dy;
                if (nx < 0 || ny < 0 || nx >= w || ny >= h) continue;
                var d = Math.Max(Math.Abs(dx), Math.Abs(dy));
                if (d < distance[ny * w + nx]) distance[ny * w + nx] = d;
            }
        }
        return distance;
    }

    /// <summary>
    /// The chroma of full coverage: the median over the blob's pixels at least two pixels deep, which
    /// a blur of σ ≈ 1 leaves at full strength; thinner blobs fall back to shallower pixels.
    /// </summary>
    static double FullCoverageChroma(int k, int[] blob, int[] owner, double[] chroma, int width, int height)
    {
        for (var depth = 2; depth > 0; depth--)
        {
            var deep = blob.Where(i => Depth(i, k, owner, width, height, depth)).Select(i => chroma[i]).ToList();
            if (deep.Count >= MinDeepPixels) return Quantile(deep, 0.5);
        }
        return Quantile(blob.Select(i => chroma[i]).ToList(), PeakQuantile);
    }

    static bool Depth(int i, int k, int[] owner, int width, int height, int depth)
    {
        int x = i % width, y = i / width;
        for (var dy = -depth; dy <= depth; dy++)
        for (var dx = -depth; dx <= depth; dx++)
        {
            int nx = x + dx, ny = y + dy;
            if (nx < 0 || ny < 0 || nx >= width || ny >= height || owner[ny * width + nx] != k) return false;
        }
        return true;
    }

    static double Quantile(List<double> values, double q)
    {
        if (values.Count == 0) return 0;
        values.Sort();
        return values[(int)(q * (values.Count - 1))];
    }

    static int InteriorPixels(int[] blob, int[] owner, int k, int width, int height)
    {
        var interior = 0;
        foreach (var i in blob)
        {
            int x = i % width, y = i / width;
            if (x > 0 && x < width - 1 && y > 0 && y < height - 1
                && owner[i - 1] == k && owner[i + 1] == k && owner[i - width] == k && owner[i + width] == k)
                interior++;
        }
        return interior;
    }

    /// <summary>8-connected components of equal non-background labels, each as its pixel indices.</summary>
    static List<int[]> Components(sbyte[] labels, int width, int height)
    {
        var components = new List<int[]>();
        var visited = new bool[labels.Length];
        var stack = new Stack<int>();
        var pixels = new List<int>();
        for (var start = 0; start < labels.Length; start++)
        {
            if (visited[start] || labels[start] == Background) continue;
            var label = labels[start];
            visited[start] = true;
            stack.Push(start);
            pixels.Clear();
            while (stack.Count > 0)
            {
                var i = stack.Pop();
                pixels.Add(i);
                int x = i % width, y = i / width;
                for (var dy = -1; dy <= 1; dy++)
                for (var dx = -1; dx <= 1; dx++)
                {
                    int nx = x + dx, ny = y + dy;
                    if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
                    var j = ny * width + nx;
                    if (visited[j] || labels[j] != label) continue;
                    visited[j] = true;
                    stack.Push(j);
                }
            }
            components.Add([.. pixels]);
        }
        return components;
    }
}
