using LayoutGuidance.Models.Attention;
using LayoutGuidance.Models.Blocks;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.UNet;

/// <summary>DownBlock2D, or CrossAttnDownBlock2D when it carries attentions: resnets (each followed by its attention), then a downsampler.</summary>
public sealed class DownBlock : Module
{
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Transformer2DModel>? attentions;
    readonly ModuleList<Downsample2D>? downsamplers;

    public DownBlock(string path, UNet2DConditionConfig c, int index, long inChannels, long outChannels, bool crossAttention, bool addDownsample)
        : base(nameof(DownBlock))
    {
        var layers = c.LayersPerBlockList[index];
        var heads = c.HeadsList[index];
        resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, layers)
            .Select(i => new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, c.TimeEmbedDim, c.Groups, c.NormEps)).ToArray());
        if (crossAttention)
            attentions = new ModuleList<Transformer2DModel>(Enumerable.Range(0, layers)
                .Select(i => new Transformer2DModel($"{path}.attentions.{i}", heads, outChannels / heads, outChannels,
                    c.TransformerLayersList[index], c.CrossAttentionDimList[index], c.Groups, c.UseLinearProjection, c.UpcastAttention)).ToArray());
        if (addDownsample) downsamplers = new ModuleList<Downsample2D>(new Downsample2D(outChannels, outChannels, c.DownsamplePadding));
        RegisterComponents();
    }

    public IEnumerable<Transformer2DModel> Attentions => attentions ?? Enumerable.Empty<Transformer2DModel>();

    /// <summary>Returns the block output; appends every intermediate state the up path will skip-connect to.</summary>
    public Tensor forward(Tensor hidden, Tensor temb, Tensor context, AttentionCapture? capture, List<Tensor> skips)
    {
        var h = hidden;
        for (int i = 0; i < resnets.Count; i++)
        {
            h = resnets[i].forward(h, temb);
            if (attentions is not null) h = attentions[i].forward(h, context, capture);
            skips.Add(h);
        }
        if (downsamplers is not null)
        {
            h = downsamplers[0].call(h);
            skips.Add(h);
        }
        return h;
    }
}
