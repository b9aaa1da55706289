using LayoutGuidance.Models.UNet;

namespace LayoutGuidance.Bench;

/// <summary>
/// Multiply-add FLOPs (2 per multiply-accumulate) of one UNet forward, counted from the config the way
/// <see cref="UNet2DConditionModel"/> is built: convolutions (including 1×1 projections), linear layers
/// (attention projections, feed-forwards, embeddings) and the attention matmuls Q·Kᵀ and P·V.
/// Normalisations and elementwise work are not counted. The running total is recorded after every
/// cross-attention layer, so the part of the forward that precedes an early exit can be read off.
/// </summary>
sealed class UNetFlops
{
    const long TextTokens = 77;
    readonly Dictionary<string, (double Total, double Attention)> atCrossAttention = new();

    public double Conv { get; private set; }
    public double Linear { get; private set; }
    public double Attention { get; private set; }
    public double Total => Conv + Linear + Attention;

    /// <summary>FLOPs (total, attention part) up to and including the named attn2 layer's output projection.</summary>
    public (double Total, double Attention) Before(string crossAttentionPath) => atCrossAttention[crossAttentionPath];

    public static UNetFlops Count(UNet2DConditionConfig c, long height, long width, long batch)
    {
        var f = new UNetFlops();
        f.Walk(c, height, width);
        f.Conv *= batch;
        f.Linear *= batch;
        f.Attention *= batch;
        foreach (var key in f.atCrossAttention.Keys.ToList())
            f.atCrossAttention[key] = (f.atCrossAttention[key].Total * batch, f.atCrossAttention[key].Attention * batch);
        return f;
    }

    void Walk(UNet2DConditionConfig c, long height, long width)
    {
        var channels = c.BlockOutChannels.Select(x => (long)x).ToArray();
        int blocks = channels.Length;
        long temb = c.TimeEmbedDim;
        Linear += 2.0 * (channels[0] * temb + temb * temb);
        if (c.AdditionEmbedType == "text_time")
            Linear += 2.0 * (c.ProjectionClassEmbeddingsInputDim!.Value * temb + temb * temb);

        var (h, w) = (height, width);
        ConvOp(c.InChannels, channels[0], 3, h * w);
        var skips = new Stack<(long Channels, long H, long W)>();
        skips.Push((channels[0], h, w));
        long output = channels[0];
        for (int i = 0; i < blocks; i++)
        {
            long input = output;
            output = channels[i];
            for (int j = 0; j < c.LayersPerBlockList[i]; j++)
            {
                Resnet(j == 0 ? input : output, output, temb, h * w);
                if (c.DownBlockTypes[i] == "CrossAttnDownBlock2D")
                    Transformer(c, $"down_blocks.{i}.attentions.{j}", output, c.HeadsList[i], c.TransformerLayersList[i], c.CrossAttentionDimList[i], h * w);
                skips.Push((output, h, w));
            }
            if (i < blocks - 1)
            {
                (h, w) = ((h + 1) / 2, (w + 1) / 2);
                ConvOp(output, output, 3, h * w);
                skips.Push((output, h, w));
            }
        }

        Resnet(channels[^1], channels[^1], temb, h * w);
        Transformer(c, "mid_block.attentions.0", channels[^1], c.HeadsList[^1], c.TransformerLayersList[^1], c.CrossAttentionDimList[^1], h * w);
        Resnet(channels[^1], channels[^1], temb, h * w);

        var reversed = channels.Reverse().ToArray();
        output = reversed[0];
        for (int i = 0; i < blocks; i++)
        {
            int r = blocks - 1 - i;
            long prev = output;
            output = reversed[i];
            long input = reversed[Math.Min(i + 1, blocks - 1)];
            int layers = c.LayersPerBlockList[r] + 1;
            for (int j = 0; j < layers; j++)
            {
                var skip = skips.Pop();
                Resnet((j == 0 ? prev : output) + skip.Channels, output, temb, h * w);
                if (c.UpBlockTypes[i] == "CrossAttnUpBlock2D")
                    Transformer(c, $"up_blocks.{i}.attentions.{j}", output, c.HeadsList[r], c.TransformerLayersList[r], c.CrossAttentionDimList[r], h * w);
            }
            if (i < blocks - 1)
            {
                (h, w) = (skips.Peek().H, skips.Peek().W);
                ConvOp(output, output, 3, h * w);
            }
        }
        ConvOp(channels[0], c.OutChannels, 3, h * w);
    }

    void ConvOp(long cin, long cout, long kernel, long pixels) => Conv += 2.0 * cin * cout * kernel * kernel * pixels;

    void Resnet(long cin, long cout, long temb, long pixels)
    {
        ConvOp(cin, cout, 3, pixels);
        Linear += 2.0 * temb * cout;
        ConvOp(cout, cout, 3, pixels);
        if (cin != cout) ConvOp(cin, cout, 1, pixels);
    }

    void Transformer(UNet2DConditionConfig c, string path, long dim, long heads, long layers, long contextDim, long tokens)
    {
        void Projection() { if (c.UseLinearProjection) Linear += 2.0 * dim * dim * tokens; else ConvOp(dim, dim, 1, tokens); }
        Projection();
        for (int l = 0; l < layers; l++)
        {
            Linear += 2.0 * 4 * tokens * dim * dim;                                 // attn1 q, k, v, out
            Attention += 2.0 * 2 * tokens * tokens * dim;                           // attn1 Q·Kᵀ, P·V over all heads
            Linear += 2.0 * 2 * tokens * dim * dim + 2.0 * 2 * TextTokens * contextDim * dim; // attn2 q, out; k, v
            Attention += 2.0 * 2 * tokens * TextTokens * dim;
            atCrossAttention[$"{path}.transformer_blocks.{l}.attn2"] = (Total, Attention);
            Linear += 2.0 * tokens * dim * 8 * dim + 2.0 * tokens * 4 * dim * dim;  // GEGLU proj (gate and value), ff.net.2
        }
        Projection();
    }
}
