using static TorchSharp.torch;

namespace LayoutGuidance.Models.Attention;

/// <summary>
/// Materialises softmax(Q·Kᵀ·scale) for one layer, hands it to the capture (keeping it in the autograd
/// graph), and applies it — edited by the capture, for forward guidance — to V. The capture keeps the
/// model's own map, so metrics on it measure the model, not the edit.
/// </summary>
sealed class CapturingAttentionProcessor(AttentionCapture capture) : IAttentionProcessor
{
    public Tensor Attend(Attention layer, Tensor query, Tensor key, Tensor value)
    {
        using var scope = NewDisposeScope();
        var (b, heads, n, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3]);
        var q = layer.UpcastAttention ? query.to(ScalarType.Float32) : query;
        var k = layer.UpcastAttention ? key.to(ScalarType.Float32) : key;
        var probs = (q.matmul(k.transpose(-1, -2)) * layer.Scale).softmax(-1).to(value.dtype);
        var flat = probs.reshape(b * heads, n, probs.shape[3]);
        var edited = capture.Edit(layer.Path, flat);
        if (!edited.shape.SequenceEqual(flat.shape))
            throw new InvalidOperationException($"the attention edit of {layer.Path} changed the map's shape [{string.Join(", ", flat.shape)}] to [{string.Join(", ", edited.shape)}]");
        var output = edited.reshape(b, heads, n, flat.shape[2]).matmul(value);
        capture.Record(layer.Path, flat);
        return output.MoveToOuterDisposeScope();
    }
}
