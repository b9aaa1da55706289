using static TorchSharp.torch;

namespace LayoutGuidance.Weights;

/// <summary>
/// Byte access to a contiguous CPU tensor in pieces: TorchSharp exposes a tensor's memory as one
/// <see cref="Span{T}"/>, whose int length cannot cover tensors of 2 GiB or more (SDXL-sized fp32
/// checkpoints come close), so every tensor is walked as 1-D views of at most <see cref="MaxChunkBytes"/>.
/// </summary>
static class TensorChunks
{
    const long MaxChunkBytes = 1L << 30;

    /// <summary>Consecutive views of <paramref name="contiguous"/>; the caller disposes each.</summary>
    public static IEnumerable<Tensor> Of(Tensor contiguous)
    {
        long total = contiguous.numel();
        if (total == 0) yield break;
        long step = Math.Max(1, MaxChunkBytes / contiguous.ElementSize);
        using var flat = contiguous.reshape(-1);
        for (long start = 0; start < total; start += step)
            yield return flat.narrow(0, start, Math.Min(step, total - start));
    }
}
