using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.Attention;

/// <summary>Self-attention (attn1), cross-attention over the text (attn2), GEGLU feed-forward; pre-LayerNorm residuals.</summary>
public sealed class BasicTransformerBlock : Module
{
    readonly LayerNorm norm1, norm2, norm3;
    readonly Attention attn1, attn2;
    readonly FeedForward ff;

    public BasicTransformerBlock(string path, long dim, long heads, long headDim, long crossAttentionDim, bool upcastAttention)
        : base(nameof(BasicTransformerBlock))
    {
        norm1 = LayerNorm(dim);
        attn1 = new Attention($"{path}.attn1", dim, null, heads, headDim, bias: false, upcastAttention);
        norm2 = LayerNorm(dim);
        attn2 = new Attention($"{path}.attn2", dim, crossAttentionDim, heads, headDim, bias: false, upcastAttention);
        norm3 = LayerNorm(dim);
        ff = new FeedForward(dim);
        RegisterComponents();
    }

    public Attention CrossAttention => attn2;

    public Tensor forward(Tensor hidden, Tensor context, AttentionCapture? capture)
    {
        using var scope = NewDisposeScope();
        var x = attn1.forward(norm1.call(hidden), null, capture) + hidden;
        x = attn2.forward(norm2.call(x), context, capture) + x;
        x = ff.call(norm3.call(x)) + x;
        return x.MoveToOuterDisposeScope();
    }
}
