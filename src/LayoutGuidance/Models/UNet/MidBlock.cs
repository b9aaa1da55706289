using LayoutGuidance.Models.Attention;
using LayoutGuidance.Models.Blocks;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.UNet;

/// <summary>UNetMidBlock2DCrossAttn: resnet, then (attention, resnet) pairs.</summary>
public sealed class MidBlock : Module
{
    readonly ModuleList<ResnetBlock2D> resnets;
    readonly ModuleList<Transformer2DModel> attentions;

    public MidBlock(string path, UNet2DConditionConfig c, long channels) : base(nameof(MidBlock))
    {
        var heads = c.HeadsList[^1];
        resnets = new ModuleList<ResnetBlock2D>(
            Enumerable.Range(0, 2).Select(_ => new ResnetBlock2D(channels, channels, c.TimeEmbedDim, c.Groups, c.NormEps, c.MidBlockScaleFactor)).ToArray());
        attentions = new ModuleList<Transformer2DModel>(new Transformer2DModel($"{path}.attentions.0", heads, channels / heads, channels,
            c.TransformerLayersList[^1], c.CrossAttentionDimList[^1], c.Groups, c.UseLinearProjection, c.UpcastAttention));
        RegisterComponents();
    }

    public IEnumerable<Transformer2DModel> Attentions => attentions;

    public Tensor forward(Tensor hidden, Tensor temb, Tensor context, AttentionCapture? capture)
    {
        var h = resnets[0].forward(hidden, temb);
        for (int i = 0; i < attentions.Count; i++)
        {
            h = attentions[i].forward(h, context, capture);
            h = resnets[i + 1].forward(h, temb);
        }
        return h;
    }
}
