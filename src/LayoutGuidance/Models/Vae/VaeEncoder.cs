using LayoutGuidance.Models.Blocks;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.Vae;

/// <summary>Image → 2·latent_channels moments (mean and log-variance), before quant_conv.</summary>
public sealed class VaeEncoder : Module<Tensor, Tensor>
{
    readonly Conv2d conv_in, conv_out;
    readonly ModuleList<EncoderBlock> down_blocks;
    readonly VaeMidBlock mid_block;
    readonly GroupNorm conv_norm_out;

    public VaeEncoder(AutoencoderKLConfig c) : base(nameof(VaeEncoder))
    {
        var ch = c.BlockOutChannels;
        conv_in = Conv2d(c.InChannels, ch[0], 3, padding: 1);
        down_blocks = new ModuleList<EncoderBlock>(Enumerable.Range(0, ch.Length)
            .Select(i => new EncoderBlock(i == 0 ? ch[0] : ch[i - 1], ch[i], c.LayersPerBlock, c.NormNumGroups, i < ch.Length - 1)).ToArray());
        mid_block = new VaeMidBlock("encoder.mid_block", ch[^1], c.NormNumGroups);
        conv_norm_out = GroupNorm(c.NormNumGroups, ch[^1], 1e-6, affine: true);
        conv_out = Conv2d(ch[^1], 2 * c.LatentChannels, 3, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor image)
    {
        using var scope = NewDisposeScope();
        var h = conv_in.call(image);
        foreach (var block in down_blocks) h = block.call(h);
        h = mid_block.call(h);
        return conv_out.call(functional.silu(conv_norm_out.call(h))).MoveToOuterDisposeScope();
    }

    /// <summary>DownEncoderBlock2D: resnets without time embedding, then a padded strided conv.</summary>
    public sealed class EncoderBlock : Module<Tensor, Tensor>
    {
        readonly ModuleList<ResnetBlock2D> resnets;
        readonly ModuleList<Downsample2D>? downsamplers;

        public EncoderBlock(long inChannels, long outChannels, int layers, long groups, bool addDownsample) : base(nameof(EncoderBlock))
        {
            resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, layers)
                .Select(i => new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, null, groups, 1e-6)).ToArray());
            if (addDownsample) downsamplers = new ModuleList<Downsample2D>(new Downsample2D(outChannels, outChannels, padding: 0));
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var h = input;
            foreach (var r in resnets) h = r.forward(h, null);
            if (downsamplers is not null) h = downsamplers[0].call(h);
            return h.MoveToOuterDisposeScope();
        }
    }
}
