using LayoutGuidance.Models.Attention;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.UNet;

/// <summary>SDXL's extra conditioning (addition_embed_type "text_time"): pooled text embeddings and the 6 micro-conditioning ids.</summary>
public sealed record AddedConditions(Tensor TextEmbeds, Tensor TimeIds);

/// <summary>One cross-attention layer of a UNet: its module path, head layout and the latent downscale at which it runs.</summary>
public sealed record CrossAttentionLayer(string Path, long Heads, long HeadDim, int Downscale)
{
    public (long Height, long Width) MapSize(long latentHeight, long latentWidth)
    {
        // Every downsampler is a stride-2 conv with padding 1, so odd sizes round up.
        long h = latentHeight, w = latentWidth;
        for (int s = 1; s < Downscale; s *= 2) { h = (h + 1) / 2; w = (w + 1) / 2; }
        return (h, w);
    }
}

/// <summary>
/// diffusers' UNet2DConditionModel for SD1.x, SD2.x and SDXL. Parameter names equal the checkpoint
/// keys. Cross-attention maps of chosen layers come out through an <see cref="AttentionCapture"/>.
/// </summary>
public sealed class UNet2DConditionModel : Module
{
    readonly Conv2d conv_in, conv_out;
    readonly TimestepEmbedding time_embedding;
    readonly TimestepEmbedding? add_embedding;
    readonly ModuleList<DownBlock> down_blocks;
    readonly MidBlock mid_block;
    readonly ModuleList<UpBlock> up_blocks;
    readonly GroupNorm conv_norm_out;

    public UNet2DConditionConfig Config { get; }
    /// <summary>Every cross-attention (attn2) layer in forward order.</summary>
    public IReadOnlyList<CrossAttentionLayer> CrossAttentionLayers { get; }

    public UNet2DConditionModel(UNet2DConditionConfig config) : base(nameof(UNet2DConditionModel))
    {
        config.Validate();
        Config = config;
        var c = config;
        var channels = c.BlockOutChannels;
        int blocks = channels.Length;
        conv_in = Conv2d(c.InChannels, channels[0], 3, padding: 1);
        time_embedding = new TimestepEmbedding(channels[0], c.TimeEmbedDim);
        if (c.AdditionEmbedType == "text_time")
            add_embedding = new TimestepEmbedding(c.ProjectionClassEmbeddingsInputDim!.Value, c.TimeEmbedDim);

        var down = new List<DownBlock>();
        long output = channels[0];
        for (int i = 0; i < blocks; i++)
        {
            long input = output;
            output = channels[i];
            down.Add(new DownBlock($"down_blocks.{i}", c, i, input, output, c.DownBlockTypes[i] == "CrossAttnDownBlock2D", i < blocks - 1));
        }
        down_blocks = new ModuleList<DownBlock>(down.ToArray());
        mid_block = new MidBlock("mid_block", c, channels[^1]);

        var up = new List<UpBlock>();
        var reversed = channels.Reverse().ToArray();
        output = reversed[0];
        for (int i = 0; i < blocks; i++)
        {
            long prev = output;
            output = reversed[i];
            long input = reversed[Math.Min(i + 1, blocks - 1)];
            up.Add(new UpBlock($"up_blocks.{i}", c, i, input, prev, output, c.UpBlockTypes[i] == "CrossAttnUpBlock2D", i < blocks - 1));
        }
        up_blocks = new ModuleList<UpBlock>(up.ToArray());
        conv_norm_out = GroupNorm(c.Groups, channels[0], c.NormEps, affine: true);
        conv_out = Conv2d(channels[0], c.OutChannels, 3, padding: 1);
        RegisterComponents();

        CrossAttentionLayers = ListCrossAttentionLayers(blocks);
    }

    IReadOnlyList<CrossAttentionLayer> ListCrossAttentionLayers(int blocks)
    {
        static IEnumerable<CrossAttentionLayer> Of(IEnumerable<Transformer2DModel> attentions, int downscale) =>
            attentions.SelectMany(a => a.CrossAttentions).Select(x => new CrossAttentionLayer(x.Path, x.Heads, x.HeadDim, downscale));
        var layers = new List<CrossAttentionLayer>();
        for (int i = 0; i < blocks; i++) layers.AddRange(Of(down_blocks[i].Attentions, 1 << i));
        layers.AddRange(Of(mid_block.Attentions, 1 << (blocks - 1)));
        for (int i = 0; i < blocks; i++) layers.AddRange(Of(up_blocks[i].Attentions, 1 << (blocks - 1 - i)));
        return layers;
    }

    /// <summary>
    /// Predicts noise (or v) for <paramref name="sample"/> [B,C,h,w] at <paramref name="timestep"/>
    /// (a scalar or [B] tensor, integer or fractional). Returns null when <paramref name="capture"/>
    /// asked to stop once its maps were complete.
    /// </summary>
    public Tensor? forward(Tensor sample, Tensor timestep, Tensor encoderHiddenStates, AddedConditions? added = null, AttentionCapture? capture = null)
    {
        using var scope = NewDisposeScope();
        var batch = sample.shape[0];
        var timesteps = (timestep.dim() == 0 ? timestep.reshape(1) : timestep).to(sample.device).expand(batch);
        var temb = time_embedding.call(TimestepEmbedding.Sinusoidal(timesteps, Config.BlockOutChannels[0], Config.FlipSinToCos, Config.FreqShift).to(sample.dtype));
        if (add_embedding is not null)
        {
            if (added is null)
                throw new ArgumentException("this UNet has addition_embed_type \"text_time\" (SDXL): pass AddedConditions with text_embeds and time_ids");
            var timeIds = TimestepEmbedding.Sinusoidal(added.TimeIds.flatten(), Config.AdditionTimeEmbedDim!.Value, Config.FlipSinToCos, Config.FreqShift)
                .reshape(batch, -1);
            var addEmbeds = cat([added.TextEmbeds, timeIds.to(added.TextEmbeds.dtype)], -1).to(temb.dtype);
            temb = temb + add_embedding.call(addEmbeds);
        }

        try
        {
            var h = conv_in.call(sample);
            var skips = new List<Tensor> { h };
            foreach (var block in down_blocks) h = block.forward(h, temb, encoderHiddenStates, capture, skips);
            h = mid_block.forward(h, temb, encoderHiddenStates, capture);

            // Odd latent sizes: tell each upsampler the size of the skip it will meet.
            var factor = 1L << (up_blocks.Count - 1);
            bool explicitSizes = sample.shape[2] % factor != 0 || sample.shape[3] % factor != 0;
            for (int i = 0; i < up_blocks.Count; i++)
            {
                var block = up_blocks[i];
                var isLast = i == up_blocks.Count - 1;
                long[]? size = null;
                if (!isLast && explicitSizes)
                {
                    var next = skips[skips.Count - block.SkipCount - 1];
                    size = [next.shape[2], next.shape[3]];
                }
                h = block.forward(h, temb, encoderHiddenStates, capture, skips, size);
            }
            var output = conv_out.call(functional.silu(conv_norm_out.call(h)));
            return output.MoveToOuterDisposeScope();
        }
        catch (AttentionCaptureComplete)
        {
            return null;
        }
    }
}
