using TorchSharp;
using static TorchSharp.torch;

namespace LayoutGuidance.Guidance;

/// <summary>
/// The spatial grid of an attention map: its [B·heads, H·W, T] tensor flattens H × W row-major
/// (index y·W + x). The reference assumes square maps (H = W = √(H·W)); here the grid follows the
/// latent, so non-square images (and SDXL's sizes) work.
/// </summary>
public readonly record struct MapGrid(int Height, int Width)
{
    public int Cells => Height * Width;

    /// <summary>
    /// The grid a UNet level has for a latent of <paramref name="latentHeight"/> × <paramref name="latentWidth"/>:
    /// every stride-2 downsampler (3×3, padding 1) maps n to ⌈n/2⌉, so the candidates are the latent
    /// halved k times; the one with <paramref name="cells"/> cells is the answer.
    /// </summary>
    public static MapGrid Infer(long cells, int latentHeight, int latentWidth)
    {
        if (latentHeight < 1 || latentWidth < 1)
            throw new ArgumentOutOfRangeException(nameof(latentHeight), $"latent size {latentHeight}×{latentWidth} must be positive");
        int h = latentHeight, w = latentWidth;
        while (true)
        {
            if ((long)h * w == cells) return new MapGrid(h, w);
            if (h == 1 && w == 1)
                throw new ArgumentException(
                    $"an attention map with {cells} spatial cells fits no level of a {latentHeight}×{latentWidth} latent " +
                    "(levels are the latent halved, rounding up); pass the latent size the maps were computed for");
            h = (h + 1) / 2;
            w = (w + 1) / 2;
        }
    }

    /// <summary>The grid of a [B·heads, H·W, T] map.</summary>
    public static MapGrid Of(Tensor map, int latentHeight, int latentWidth)
    {
        if (map.dim() != 3)
            throw new ArgumentException($"an attention map must be [batch*heads, H*W, tokens], got shape [{string.Join(", ", map.shape)}]");
        return Infer(map.shape[1], latentHeight, latentWidth);
    }

    /// <summary>
    /// The union of <paramref name="boxes"/> rasterised on this grid as the reference does, flattened to
    /// [H·W] (row-major) as a 0/1 tensor.
    /// </summary>
    public Tensor Mask(IEnumerable<BoundingBox> boxes, ScalarType dtype, Device device)
    {
        var cells = new float[Cells];
        foreach (var box in boxes)
        {
            var (r0, r1, c0, c1) = box.Cells(Height, Width);
            for (var r = r0; r < r1; r++)
                Array.Fill(cells, 1f, r * Width + c0, Math.Max(0, c1 - c0));
        }
        return tensor(cells, dtype: ScalarType.Float32).to(dtype, device);
    }

    /// <summary>Whether the boxes cover no cell of this grid (a box narrower than a cell truncates to nothing).</summary>
    public bool CoversNothing(IEnumerable<BoundingBox> boxes)
    {
        var (height, width) = (Height, Width);
        return boxes.All(b => b.Cells(height, width) is var (r0, r1, c0, c1) && (r1 <= r0 || c1 <= c0));
    }

    public override string ToString() => $"{Height}×{Width}";
}
