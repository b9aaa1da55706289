using static TorchSharp.torch;

namespace LayoutGuidance.Models.Attention;

/// <summary>The default: fused scaled-dot-product attention; the map is never materialised.</summary>
public sealed class FusedAttentionProcessor : IAttentionProcessor
{
    public static readonly FusedAttentionProcessor Instance = new();

    public Tensor Attend(Attention layer, Tensor query, Tensor key, Tensor value)
    {
        // SDPA's built-in scale is head_dim^-0.5, which is SD's; upcast_attention (SD2.x) computes in
        // float32 when the model runs in half precision, where q·k overflows.
        if (!layer.UpcastAttention || query.dtype == ScalarType.Float32)
            return nn.functional.scaled_dot_product_attention(query, key, value);
        using var scope = NewDisposeScope();
        var output = nn.functional.scaled_dot_product_attention(query.to(ScalarType.Float32), key.to(ScalarType.Float32), value.to(ScalarType.Float32));
        return output.to(query.dtype).MoveToOuterDisposeScope();
    }
}
