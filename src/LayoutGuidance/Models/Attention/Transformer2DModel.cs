using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.Attention;

/// <summary>
/// The spatial transformer of SD: GroupNorm, proj_in (1×1 conv, or linear with use_linear_projection
/// as in SD2.x/SDXL), a stack of <see cref="BasicTransformerBlock"/>s over the H·W tokens, proj_out, residual.
/// </summary>
public sealed class Transformer2DModel : Module
{
    readonly GroupNorm norm;
    readonly Module<Tensor, Tensor> proj_in, proj_out;
    readonly ModuleList<BasicTransformerBlock> transformer_blocks;
    readonly bool linearProjection;

    public Transformer2DModel(string path, long heads, long headDim, long inChannels, int layers, long crossAttentionDim,
                              long normGroups, bool useLinearProjection, bool upcastAttention)
        : base(nameof(Transformer2DModel))
    {
        var inner = heads * headDim;
        linearProjection = useLinearProjection;
        norm = GroupNorm(normGroups, inChannels, 1e-6, affine: true);
        proj_in = useLinearProjection ? Linear(inChannels, inner) : Conv2d(inChannels, inner, 1);
        transformer_blocks = new ModuleList<BasicTransformerBlock>(Enumerable.Range(0, layers)
            .Select(i => new BasicTransformerBlock($"{path}.transformer_blocks.{i}", inner, heads, headDim, crossAttentionDim, upcastAttention))
            .ToArray());
        proj_out = useLinearProjection ? Linear(inner, inChannels) : Conv2d(inner, inChannels, 1);
        RegisterComponents();
    }

    public IEnumerable<Attention> CrossAttentions => transformer_blocks.Select(b => b.CrossAttention);

    public Tensor forward(Tensor input, Tensor context, AttentionCapture? capture)
    {
        using var scope = NewDisposeScope();
        var (b, c, h, w) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3]);
        var x = norm.call(input);
        if (!linearProjection) x = proj_in.call(x);
        x = x.permute(0, 2, 3, 1).reshape(b, h * w, x.shape[1]);
        if (linearProjection) x = proj_in.call(x);
        foreach (var block in transformer_blocks) x = block.forward(x, context, capture);
        if (linearProjection) x = proj_out.call(x);
        x = x.reshape(b, h, w, x.shape[2]).permute(0, 3, 1, 2).contiguous();
        if (!linearProjection) x = proj_out.call(x);
        return (x + input).MoveToOuterDisposeScope();
    }
}
