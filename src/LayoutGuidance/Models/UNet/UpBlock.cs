using LayoutGuidance.Models.Attention;
using LayoutGuidance.Models.Blocks;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.UNet;

/// <summary>UpBlock2D, or CrossAttnUpBlock2D when it carries attentions: each resnet eats one skip connection.</summary>
public sealed class UpBlock : Module
{
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Transformer2DModel>? attentions;
    readonly ModuleList<Upsample2D>? upsamplers;

    /// <param name="index">Index into the reversed per-block settings (up block order).</param>
    public UpBlock(string path, UNet2DConditionConfig c, int index, long inChannels, long prevOutChannels, long outChannels, bool crossAttention, bool addUpsample)
        : base(nameof(UpBlock))
    {
        int reversed = c.DownBlockTypes.Length - 1 - index;
        var layers = c.LayersPerBlockList[reversed] + 1;
        var heads = c.HeadsList[reversed];
        resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, layers).Select(j =>
        {
            var skipChannels = j == layers - 1 ? inChannels : outChannels;
            var resnetIn = j == 0 ? prevOutChannels : outChannels;
            return new ResnetBlock2D(resnetIn + skipChannels, outChannels, c.TimeEmbedDim, c.Groups, c.NormEps);
        }).ToArray());
        if (crossAttention)
            attentions = new ModuleList<Transformer2DModel>(Enumerable.Range(0, layers)
                .Select(j => new Transformer2DModel($"{path}.attentions.{j}", heads, outChannels / heads, outChannels,
                    c.TransformerLayersList[reversed], c.CrossAttentionDimList[reversed], c.Groups, c.UseLinearProjection, c.UpcastAttention)).ToArray());
        if (addUpsample) upsamplers = new ModuleList<Upsample2D>(new Upsample2D(outChannels, outChannels));
        RegisterComponents();
    }

    public int SkipCount => resnets.Count;
    public IEnumerable<Transformer2DModel> Attentions => attentions ?? Enumerable.Empty<Transformer2DModel>();

    public Tensor forward(Tensor hidden, Tensor temb, Tensor context, AttentionCapture? capture, List<Tensor> skips, long[]? upsampleSize)
    {
        var h = hidden;
        for (int i = 0; i < resnets.Count; i++)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            h = resnets[i].forward(cat([h, skip], 1), temb);
            if (attentions is not null) h = attentions[i].forward(h, context, capture);
        }
        if (upsamplers is not null) h = upsamplers[0].forward(h, upsampleSize);
        return h;
    }
}
