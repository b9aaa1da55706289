using LayoutGuidance.Evaluation;

namespace LayoutGuidance.Toy;

/// <summary>
/// Procedural training data for the toy text-to-image model: 64×64 images of 1–3 coloured shapes on a
/// plain or lightly textured grey background, with a caption that names the objects (never their
/// positions) and each object's ground-truth box. A sample is a pure function of its seed and uses only
/// exactly rounded arithmetic, so it is the same on every machine.
/// </summary>
public static class ShapesDataset
{
    public const int ImageSize = 64;
    public const int MaxObjects = 3;

    /// <summary>Side of an object's square box in pixels, drawn uniformly from [Min, Max).</summary>
    public const double MinObjectSize = 12, MaxObjectSize = 28;

    const double BorderMargin = 1;
    // Same-coloured objects stay apart so each stays its own blob; different colours may touch or overlap slightly.
    const double SameColorGap = 3;
    const double OtherColorGap = -2;
    const int PlacementTries = 100;

    /// <summary>The samples of seeds firstSeed, firstSeed + 1, …; a training step's batch is one call.</summary>
    public static IReadOnlyList<ShapeSample> GenerateBatch(ulong firstSeed, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var samples = new ShapeSample[count];
        for (var i = 0; i < count; i++) samples[i] = Generate(firstSeed + (ulong)i);
        return samples;
    }

    public static ShapeSample Generate(ulong seed)
    {
        var rng = new SplitMix64(seed);
        var count = 1 + rng.NextInt(MaxObjects);
        var kinds = PickObjects(rng, count);
        var boxes = Place(rng, kinds);

        var pixels = new double[ImageSize * ImageSize * 3];
        PaintBackground(rng, pixels);
        for (var i = 0; i < count; i++)
        {
            var color = ShapePalette.FromHsv(
                ShapePalette.Hue(kinds[i].Color) + rng.NextDouble(-6, 6), rng.NextDouble(0.7, 0.95), rng.NextDouble(0.75, 0.95));
            PaintObject(pixels, kinds[i].Shape, boxes[i], color);
        }

        // Drawing order decides occlusion; the caption order is drawn independently of it.
        var order = Enumerable.Range(0, count).ToArray();
        for (var i = count - 1; i > 0; i--)
        {
            var j = rng.NextInt(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        var objects = order
            .Select(i => new ShapeObject(kinds[i].Color, kinds[i].Shape,
                Box.FromPixels(boxes[i].X0, boxes[i].Y0, boxes[i].X1, boxes[i].Y1, ImageSize, ImageSize)))
            .ToArray();
        return new ShapeSample(seed, ShapeWords.Caption(objects.Select(o => o.Phrase).ToArray()), objects, ToBytes(pixels));
    }

    static (ShapeColor Color, ShapeKind Shape)[] PickObjects(SplitMix64 rng, int count)
    {
        var colors = Enum.GetValues<ShapeColor>();
        var shapes = Enum.GetValues<ShapeKind>();
        var picked = new List<(ShapeColor, ShapeKind)>(count);
        while (picked.Count < count)
        {
            var kind = (colors[rng.NextInt(colors.Length)], shapes[rng.NextInt(shapes.Length)]);
            if (!picked.Contains(kind)) picked.Add(kind);
        }
        return [.. picked];
    }

    /// <summary>Pixel boxes (continuous coordinates), by rejection; a layout that gets stuck starts over.</summary>
    static Box[] Place(SplitMix64 rng, (ShapeColor Color, ShapeKind Shape)[] kinds)
    {
        var boxes = new Box[kinds.Length];
        while (true)
        {
            var placed = 0;
            for (var tries = 0; placed < kinds.Length && tries < PlacementTries; tries++)
            {
                var size = rng.NextDouble(MinObjectSize, MaxObjectSize);
                var x0 = rng.NextDouble(BorderMargin, ImageSize - BorderMargin - size);
                var y0 = rng.NextDouble(BorderMargin, ImageSize - BorderMargin - size);
                var box = new Box(x0, y0, x0 + size, y0 + size);
                var fits = true;
                for (var j = 0; j < placed && fits; j++)
                    fits = Apart(box, boxes[j], kinds[placed].Color == kinds[j].Color ? SameColorGap : OtherColorGap);
                if (fits) boxes[placed++] = box;
            }
            if (placed == kinds.Length) return boxes;
        }
    }

    static bool Apart(Box a, Box b, double gap) =>
        a.X1 + gap <= b.X0 || b.X1 + gap <= a.X0 || a.Y1 + gap <= b.Y0 || b.Y1 + gap <= a.Y0;

    static void PaintBackground(SplitMix64 rng, double[] pixels)
    {
        var gray = rng.NextDouble(0.3, 0.7);
        Span<double> tint = [rng.NextDouble(-0.03, 0.03), rng.NextDouble(-0.03, 0.03), rng.NextDouble(-0.03, 0.03)];
        var textured = rng.NextDouble() < 0.5;
        double slopeX = 0, slopeY = 0;
        const int grid = 5;
        Span<double> blotches = stackalloc double[grid * grid];
        if (textured)
        {
            slopeX = rng.NextDouble(-0.08, 0.08);
            slopeY = rng.NextDouble(-0.08, 0.08);
            for (var i = 0; i < blotches.Length; i++) blotches[i] = rng.NextDouble(-0.04, 0.04);
        }
        for (var y = 0; y < ImageSize; y++)
        for (var x = 0; x < ImageSize; x++)
        {
            var level = gray;
            if (textured)
            {
                double gx = x * (grid - 1.0) / (ImageSize - 1), gy = y * (grid - 1.0) / (ImageSize - 1);
                int ix = Math.Min((int)gx, grid - 2), iy = Math.Min((int)gy, grid - 2);
                double fx = gx - ix, fy = gy - iy;
                var top = blotches[iy * grid + ix] * (1 - fx) + blotches[iy * grid + ix + 1] * fx;
                var bottom = blotches[(iy + 1) * grid + ix] * (1 - fx) + blotches[(iy + 1) * grid + ix + 1] * fx;
                level += top * (1 - fy) + bottom * fy
                         + slopeX * ((double)x / (ImageSize - 1) - 0.5) + slopeY * ((double)y / (ImageSize - 1) - 0.5);
            }
            var p = (y * ImageSize + x) * 3;
            for (var c = 0; c < 3; c++) pixels[p + c] = level + tint[c];
        }
    }

    /// <summary>Blends the shape over the pixels with coverage clamp(0.5 − signed distance in pixels): one-pixel anti-aliasing.</summary>
    static void PaintObject(double[] pixels, ShapeKind shape, Box box, (double R, double G, double B) color)
    {
        var size = box.Width;
        int xa = Math.Max(0, (int)box.X0 - 1), xb = Math.Min(ImageSize, (int)box.X1 + 2);
        int ya = Math.Max(0, (int)box.Y0 - 1), yb = Math.Min(ImageSize, (int)box.Y1 + 2);
        for (var y = ya; y < yb; y++)
        for (var x = xa; x < xb; x++)
        {
            var distance = ShapeGeometry.SignedDistance(shape, (x + 0.5 - box.X0) / size, (y + 0.5 - box.Y0) / size) * size;
            var alpha = Math.Clamp(0.5 - distance, 0, 1);
            if (alpha <= 0) continue;
            var p = (y * ImageSize + x) * 3;
            pixels[p] += (color.R - pixels[p]) * alpha;
            pixels[p + 1] += (color.G - pixels[p + 1]) * alpha;
            pixels[p + 2] += (color.B - pixels[p + 2]) * alpha;
        }
    }

    static byte[] ToBytes(double[] pixels)
    {
        var bytes = new byte[pixels.Length];
        for (var i = 0; i < pixels.Length; i++) bytes[i] = (byte)Math.Clamp((int)(pixels[i] * 255 + 0.5), 0, 255);
        return bytes;
    }
}
