using TorchSharp;
using static TorchSharp.torch;

namespace LayoutGuidance.Guidance;

/// <summary>
/// The forward-guidance attention edit (paper §3.2). Our reading of the paper's definition, for every
/// phrase token i of object k, spatial cell u and attention row r:
///   A'[r,u,i] = (1 − λ)·A[r,u,i] + λ·g_k[u]·Σ_v A[r,v,i]
/// where g_k ≥ 0, Σ_u g_k[u] = 1, is the object's box (union of its boxes, rasterised as the energy
/// rasterises them) smoothed by a Gaussian and normalised. The edit moves a fraction λ of each phrase
/// token's attention mass into its box while keeping that token's total mass Σ_u A[r,u,i] unchanged;
/// it does NOT renormalise over tokens, so a row's sum over tokens changes by the mass moved in or out
/// of that cell. Other tokens are untouched.
/// A box that covers no cell of the grid targets the cell under its centre instead, so the edit stays defined.
/// </summary>
public static class ForwardGuidance
{
    /// <summary>
    /// The edited copy of <paramref name="probs"/> [B·heads, H·W, T] (attention probabilities of a map
    /// computed for a latent of the given size). Only <paramref name="rows"/> are edited (default: all);
    /// with classifier-free guidance pass the conditional rows, e.g. <c>heads..</c> for a [uncond, cond] batch.
    /// </summary>
    public static Tensor Edit(Tensor probs, IReadOnlyList<LayoutObject> objects, int latentHeight, int latentWidth,
                              double strength, double smoothingSigma = 0, Range? rows = null)
    {
        if (strength is not (>= 0 and <= 1))
            throw new GuidanceOptionsException("Strength", strength, "λ must lie in [0, 1]");
        if (!double.IsFinite(smoothingSigma) || smoothingSigma < 0)
            throw new GuidanceOptionsException("SmoothingSigma", smoothingSigma, "a finite fraction of the image side >= 0");
        var grid = MapGrid.Of(probs, latentHeight, latentWidth);
        if (objects.Count == 0) return probs.alias();
        foreach (var o in objects) o.CheckTokenCount(probs.shape[2]);
        var pairs = objects.SelectMany((o, k) => o.TokenPositions.Select(p => (Object: k, Position: p))).ToArray();
        var shared = pairs.GroupBy(q => q.Position).FirstOrDefault(g => g.Select(q => q.Object).Distinct().Count() > 1);
        if (shared is not null)
            throw new LayoutException(
                $"token position {shared.Key} belongs to phrases {string.Join(" and ", shared.Select(q => $"'{objects[q.Object].Phrase}'").Distinct())}; forward guidance can steer a token toward one box only",
                objects[shared.First().Object].Phrase);
        pairs = pairs.DistinctBy(q => q.Position).ToArray();

        var (start, length) = (rows ?? Range.All).GetOffsetAndLength((int)probs.shape[0]);
        using var scope = NewDisposeScope();
        var targets = stack(objects.Select(o => Target(grid, o.Boxes, smoothingSigma, probs.dtype, probs.device)).ToArray()); // [K, HW]
        var pairTargets = targets.index_select(0, tensor(pairs.Select(q => (long)q.Object).ToArray(), device: probs.device)).t(); // [HW, N]
        var positions = tensor(pairs.Select(q => (long)q.Position).ToArray(), device: probs.device);

        var edited = probs.narrow(0, start, length);
        var columns = edited.index_select(2, positions);                        // [rows, HW, N]
        var mass = columns.sum(1, keepdim: true);                               // [rows, 1, N]
        var moved = (1 - strength) * columns + strength * pairTargets.unsqueeze(0) * mass;
        edited = edited.index_copy(2, positions, moved);
        var result = length == probs.shape[0]
            ? edited
            : cat([probs.narrow(0, 0, start), edited, probs.narrow(0, start + length, probs.shape[0] - start - length)], 0);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>g for one object on a grid: its box mask, Gaussian-smoothed per axis (σ in cells = fraction × side), summing to 1.</summary>
    static Tensor Target(MapGrid grid, IReadOnlyList<BoundingBox> boxes, double sigma, ScalarType dtype, Device device)
    {
        var mask = grid.CoversNothing(boxes) ? CentreCells(grid, boxes, device) : grid.Mask(boxes, ScalarType.Float64, device);
        var m = mask.reshape(grid.Height, grid.Width);
        if (sigma > 0)
            m = Gaussian(grid.Height, sigma * grid.Height, device).matmul(m).matmul(Gaussian(grid.Width, sigma * grid.Width, device));
        return (m / m.sum()).reshape(grid.Cells).to(dtype);
    }

    static Tensor CentreCells(MapGrid grid, IEnumerable<BoundingBox> boxes, Device device)
    {
        var cells = new double[grid.Cells];
        foreach (var b in boxes)
        {
            var row = Math.Min((int)((b.Y0 + b.Y1) / 2 * grid.Height), grid.Height - 1);
            var col = Math.Min((int)((b.X0 + b.X1) / 2 * grid.Width), grid.Width - 1);
            cells[row * grid.Width + col] = 1;
        }
        return tensor(cells, device: device);
    }

    /// <summary>Symmetric [n, n] Gaussian blur matrix with σ in cells (a separable blur is two of these products).</summary>
    static Tensor Gaussian(int n, double sigmaCells, Device device)
    {
        var i = arange(n, ScalarType.Float64, device);
        var d = i.unsqueeze(1) - i.unsqueeze(0);
        return (-(d * d) / (2 * sigmaCells * sigmaCells)).exp();
    }
}
