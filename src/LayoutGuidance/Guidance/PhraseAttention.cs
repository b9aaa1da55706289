using TorchSharp;
using static TorchSharp.torch;

namespace LayoutGuidance.Guidance;

/// <summary>
/// Where a phrase's cross-attention lands, as a measurement: an aggregated heatmap and the share of it
/// inside the phrase's boxes (the attention-in-box ratio).
/// </summary>
public static class PhraseAttention
{
    /// <summary>
    /// The phrase's attention aggregated into one [H, W] distribution (sums to 1) on <paramref name="output"/>.
    /// Per map [rows, H·W, T]: the phrase's token columns are summed, the rows (heads, batch) averaged,
    /// and the result normalised to sum 1, so every map — any layer, any step — weighs the same whatever
    /// its resolution; maps are brought to the output grid by nearest-neighbour upsampling (each coarse
    /// cell's mass spread evenly over the fine cells it covers) and averaged. Pass the maps of all the
    /// layers and steps to aggregate; upsampling to image size is the caller's.
    /// </summary>
    public static Tensor Heatmap(IEnumerable<Tensor> maps, LayoutObject phrase, int latentHeight, int latentWidth, MapGrid output)
    {
        using var scope = NewDisposeScope();
        Tensor? sum = null;
        var count = 0;
        foreach (var map in maps)
        {
            var grid = MapGrid.Of(map, latentHeight, latentWidth);
            if (grid.Height > output.Height || grid.Width > output.Width)
                throw new ArgumentException($"heatmap grid {output} is coarser than a {grid} attention map; choose an output grid at least as fine as the finest map (the latent's)");
            phrase.CheckTokenCount(map.shape[2]);
            using var _ = no_grad();
            var positions = tensor(phrase.TokenPositions.Select(p => (long)p).ToArray(), device: map.device);
            var heat = map.to(ScalarType.Float32).index_select(2, positions).sum(2).mean(new long[] { 0 })
                          .reshape(1, 1, grid.Height, grid.Width);
            if (grid != output)
                heat = nn.functional.interpolate(heat, new long[] { output.Height, output.Width }, mode: InterpolationMode.Nearest);
            heat = heat.reshape(output.Height, output.Width);
            heat = heat / heat.sum();
            sum = sum is null ? heat : sum + heat;
            count++;
        }
        if (sum is null) throw new ArgumentException($"no attention maps to aggregate for phrase '{phrase.Phrase}'");
        return (sum / count).MoveToOuterDisposeScope();
    }

    /// <summary>Σ in box / Σ total of an [H, W] heatmap, the box (union of boxes) rasterised on the heatmap's grid as the energy does.</summary>
    public static double InBoxRatio(Tensor heatmap, IReadOnlyList<BoundingBox> boxes)
    {
        if (heatmap.dim() != 2) throw new ArgumentException($"a heatmap must be [H, W], got [{string.Join(", ", heatmap.shape)}]");
        using var scope = NewDisposeScope();
        var grid = new MapGrid((int)heatmap.shape[0], (int)heatmap.shape[1]);
        var flat = heatmap.detach().to(ScalarType.Float64).reshape(grid.Cells);
        return ((flat * grid.Mask(boxes, ScalarType.Float64, heatmap.device)).sum() / flat.sum()).item<double>();
    }

    /// <summary>The phrase's attention-in-box ratio over <paramref name="maps"/>, measured on the latent grid.</summary>
    public static double InBoxRatio(IEnumerable<Tensor> maps, LayoutObject phrase, int latentHeight, int latentWidth)
    {
        using var heatmap = Heatmap(maps, phrase, latentHeight, latentWidth, new MapGrid(latentHeight, latentWidth));
        return InBoxRatio(heatmap, phrase.Boxes);
    }
}
