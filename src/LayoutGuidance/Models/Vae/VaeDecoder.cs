using LayoutGuidance.Models.Blocks;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.Vae;

/// <summary>Latents (after post_quant_conv) → image in [-1, 1] (unclamped).</summary>
public sealed class VaeDecoder : Module<Tensor, Tensor>
{
    readonly Conv2d conv_in, conv_out;
    readonly VaeMidBlock mid_block;
    readonly ModuleList<DecoderBlock> up_blocks;
    readonly GroupNorm conv_norm_out;

    public VaeDecoder(AutoencoderKLConfig c) : base(nameof(VaeDecoder))
    {
        var reversed = c.BlockOutChannels.Reverse().ToArray();
        conv_in = Conv2d(c.LatentChannels, reversed[0], 3, padding: 1);
        mid_block = new VaeMidBlock("decoder.mid_block", reversed[0], c.NormNumGroups);
        up_blocks = new ModuleList<DecoderBlock>(Enumerable.Range(0, reversed.Length)
            .Select(i => new DecoderBlock(i == 0 ? reversed[0] : reversed[i - 1], reversed[i], c.LayersPerBlock + 1, c.NormNumGroups, i < reversed.Length - 1)).ToArray());
        conv_norm_out = GroupNorm(c.NormNumGroups, c.BlockOutChannels[0], 1e-6, affine: true);
        conv_out = Conv2d(c.BlockOutChannels[0], c.OutChannels, 3, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor latents)
    {
        using var scope = NewDisposeScope();
        var h = mid_block.call(conv_in.call(latents));
        foreach (var block in up_blocks) h = block.call(h);
        return conv_out.call(functional.silu(conv_norm_out.call(h))).MoveToOuterDisposeScope();
    }

    /// <summary>UpDecoderBlock2D: resnets without time embedding, then a ×2 upsampler.</summary>
    public sealed class DecoderBlock : Module<Tensor, Tensor>
    {
        readonly ModuleList<ResnetBlock2D> resnets;
        readonly ModuleList<Upsample2D>? upsamplers;

        public DecoderBlock(long inChannels, long outChannels, int layers, long groups, bool addUpsample) : base(nameof(DecoderBlock))
        {
            resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, layers)
                .Select(i => new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, null, groups, 1e-6)).ToArray());
            if (addUpsample) upsamplers = new ModuleList<Upsample2D>(new Upsample2D(outChannels, outChannels));
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var h = input;
            foreach (var r in resnets) h = r.forward(h, null);
            if (upsamplers is not null) h = upsamplers[0].forward(h);
            return h.MoveToOuterDisposeScope();
        }
    }
}
