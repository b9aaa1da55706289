using TorchSharp;
using static TorchSharp.torch;

namespace LayoutGuidance.Guidance;

/// <summary>
/// The backward-guidance energy E (paper §3.3, the reference's <c>compute_ca_loss</c>): how much of
/// each object's cross-attention falls outside its boxes, averaged over guided maps and objects.
/// For a map A [rows, H·W, T], object k with mask m_k and token positions P_k:
///   E_k(A) = 1/|P_k| · Σ_{p∈P_k} mean_r (1 − Σ_u m_k[u]·A[r,u,p] / Σ_u A[r,u,p])²
///   E = Σ_A Σ_k E_k(A) / (K · #maps)
/// Rows are averaged as given: pass the conditional rows only (the reference guides a batch-1,
/// conditional-only UNet call, so its rows are the heads).
/// An object whose boxes cover no cell of a map has an empty mask there, so its ratio is 0 and it adds a
/// constant 1 per position with no gradient — the reference's behaviour, kept for parity;
/// <see cref="Uncovered"/> lists those cases so a run can record them.
/// </summary>
public static class LayoutEnergy
{
    /// <summary>
    /// E over <paramref name="maps"/> (each [rows, H·W, T], any level of a latent of the given size),
    /// differentiable through the maps. A scalar of the maps' dtype (float32 for half-precision maps);
    /// zero when there are no objects, as in the reference.
    /// </summary>
    public static Tensor Compute(IReadOnlyList<Tensor> maps, IReadOnlyList<LayoutObject> objects, int latentHeight, int latentWidth)
    {
        if (maps.Count == 0)
            throw new ArgumentException("the layout energy needs at least one guided attention map; check the layer selection resolved to some paths");
        var dtype = ComputeType(maps[0].dtype);
        if (objects.Count == 0) return zeros(Array.Empty<long>(), dtype, maps[0].device);

        using var scope = NewDisposeScope();
        var pairs = objects.SelectMany((o, k) => o.TokenPositions.Select(p => (Object: k, Position: p))).ToArray();
        // Each (object, position) pair carries 1/|P_k| so one weighted sum gives Σ_k E_k.
        var weights = tensor(pairs.Select(q => 1.0 / objects[q.Object].TokenPositions.Count).ToArray(), dtype, maps[0].device);
        var positions = tensor(pairs.Select(q => (long)q.Position).ToArray(), ScalarType.Int64, maps[0].device);
        var pairMasks = new Dictionary<MapGrid, Tensor>();

        Tensor total = zeros(Array.Empty<long>(), dtype, maps[0].device);
        foreach (var map in maps)
        {
            var grid = MapGrid.Of(map, latentHeight, latentWidth);
            foreach (var o in objects) o.CheckTokenCount(map.shape[2]);
            if (!pairMasks.TryGetValue(grid, out var masks))
            {
                var perObject = stack(objects.Select(o => grid.Mask(o.Boxes, dtype, map.device)).ToArray());   // [K, HW]
                masks = pairMasks[grid] = perObject.index_select(0, tensor(pairs.Select(q => (long)q.Object).ToArray(), device: map.device)).t(); // [HW, N]
            }
            var a = map.to(dtype).index_select(2, positions);                  // [rows, HW, N]
            var inside = (a * masks).sum(1);                                   // [rows, N]
            var ratio = inside / a.sum(1);
            var perPair = (1 - ratio).square().mean(new long[] { 0 });          // [N]
            total = total + (perPair * weights).sum();
        }
        return (total / (objects.Count * maps.Count)).MoveToOuterDisposeScope();
    }

    /// <summary>The (phrase, grid) pairs whose boxes cover no cell of that grid: guidance cannot move them there.</summary>
    public static IReadOnlyList<UncoveredObject> Uncovered(IReadOnlyList<LayoutObject> objects, IEnumerable<MapGrid> grids) =>
        grids.Distinct()
             .SelectMany(g => objects.Where(o => g.CoversNothing(o.Boxes)).Select(o => new UncoveredObject(o.Phrase, g)))
             .ToArray();

    static ScalarType ComputeType(ScalarType t) => t is ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
}
