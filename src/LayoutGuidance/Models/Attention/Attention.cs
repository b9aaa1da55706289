using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.Attention;

/// <summary>
/// diffusers' Attention: to_q / to_k / to_v / to_out.0 projections around a processor. Self-attention
/// when no context is given; cross-attention (attn2) over the text embeddings otherwise. The VAE's
/// mid-block variant carries a group_norm.
/// </summary>
public sealed class Attention : Module
{
    readonly Linear to_q, to_k, to_v;
    readonly ModuleList<Module> to_out;
    readonly GroupNorm? group_norm;

    /// <summary>The diffusers module path of this layer, the key of its captured map.</summary>
    public string Path { get; }
    public long Heads { get; }
    public long HeadDim { get; }
    public double Scale { get; }
    public bool UpcastAttention { get; }
    public bool IsCrossAttention { get; }

    public Attention(string path, long queryDim, long? crossAttentionDim, long heads, long headDim, bool bias,
                     bool upcastAttention = false, long? normGroups = null, double normEps = 1e-5)
        : base(nameof(Attention))
    {
        Path = path;
        Heads = heads;
        HeadDim = headDim;
        Scale = Math.Pow(headDim, -0.5);
        UpcastAttention = upcastAttention;
        IsCrossAttention = crossAttentionDim is not null;
        var inner = heads * headDim;
        var contextDim = crossAttentionDim ?? queryDim;
        to_q = Linear(queryDim, inner, hasBias: bias);
        to_k = Linear(contextDim, inner, hasBias: bias);
        to_v = Linear(contextDim, inner, hasBias: bias);
        to_out = new ModuleList<Module>(Linear(inner, queryDim, hasBias: true), Dropout(0.0));
        if (normGroups is long g) group_norm = GroupNorm(g, queryDim, normEps, affine: true);
        RegisterComponents();
    }

    /// <param name="hidden">[B, N, C]</param>
    /// <param name="context">[B, T, D] for cross-attention; null for self-attention.</param>
    public Tensor forward(Tensor hidden, Tensor? context = null, AttentionCapture? capture = null)
    {
        using var scope = NewDisposeScope();
        var x = group_norm is null ? hidden : group_norm.call(hidden.transpose(1, 2)).transpose(1, 2);
        var ctx = context ?? x;
        var q = SplitHeads(to_q.call(x));
        var k = SplitHeads(to_k.call(ctx));
        var v = SplitHeads(to_v.call(ctx));
        var processor = capture?.ProcessorFor(Path) ?? FusedAttentionProcessor.Instance;
        var attended = processor.Attend(this, q, k, v);
        var merged = attended.transpose(1, 2).reshape(hidden.shape[0], -1, Heads * HeadDim);
        var output = ((Linear)to_out[0]).call(merged).MoveToOuterDisposeScope();
        if (capture is { StopWhenComplete: true, IsComplete: true } && capture.ProcessorFor(Path) is not null)
            throw new AttentionCaptureComplete();
        return output;
    }

    Tensor SplitHeads(Tensor t) => t.view(t.shape[0], -1, Heads, HeadDim).transpose(1, 2);
}
