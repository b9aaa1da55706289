using System.Diagnostics;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using LayoutGuidance.Models.UNet;

namespace LayoutGuidance.Bench;

/// <summary>
/// Splits one run's wall time by module type with forward hooks on every Conv2d, Linear, GroupNorm and
/// LayerNorm (the CPU executes synchronously, so a hook pair brackets exactly that module's work) and
/// counts the FLOPs the convolutions and linear layers actually did, from their weight and tensor shapes.
/// What is left ("other") is attention (fused SDPA), activations, residual adds, concatenation,
/// upsampling and layout copies; <see cref="AttentionCore"/> times the SDPA part of it apart.
/// </summary>
static class OpProfile
{
    sealed class Tally
    {
        public int Calls;
        public double Seconds;
        public double Flop;
    }

    public static List<ProfileRow> Measure(string suite, string dtype, UNet2DConditionModel unet, int latent, long batch, Action run)
    {
        var tallies = new Dictionary<string, Tally>();
        var started = new Dictionary<Module, long>();
        var removers = new List<Action>();
        foreach (var (_, m) in unet.named_modules())
        {
            if (m is not Module<Tensor, Tensor> leaf) continue;
            var category = m switch { Conv2d _ => "conv2d", Linear _ => "linear", GroupNorm _ => "group_norm", LayerNorm _ => "layer_norm", _ => null };
            if (category is null) continue;
            var pre = leaf.register_forward_pre_hook((module, input) => { started[module] = Stopwatch.GetTimestamp(); return input; });
            var post = leaf.register_forward_hook((module, input, output) =>
            {
                var elapsed = Stopwatch.GetElapsedTime(started[module]).TotalSeconds;
                if (!tallies.TryGetValue(category, out var t)) tallies[category] = t = new Tally();
                t.Calls++;
                t.Seconds += elapsed;
                t.Flop += module switch
                {
                    Linear l => 2.0 * output.numel() * l.weight.shape[1],
                    Conv2d c => 2.0 * output.numel() * c.weight.shape[1] * c.weight.shape[2] * c.weight.shape[3],
                    _ => 0,
                };
                return output;
            });
            removers.Add(pre.remove);
            removers.Add(post.remove);
        }
        double total;
        try
        {
            var clock = Stopwatch.StartNew();
            run();
            total = clock.Elapsed.TotalSeconds;
        }
        finally
        {
            foreach (var remove in removers) remove();
        }
        var rows = tallies.OrderByDescending(kv => kv.Value.Seconds)
            .Select(kv => new ProfileRow(suite, dtype, kv.Key, kv.Value.Calls, kv.Value.Seconds, kv.Value.Seconds / total, kv.Value.Flop / 1e9,
                                         kv.Value.Flop / 1e9 / kv.Value.Seconds))
            .ToList();
        var other = total - tallies.Values.Sum(t => t.Seconds);
        rows.Add(new ProfileRow(suite, dtype, "other", 0, other, other / total, 0, 0));
        rows.Add(AttentionCore(suite, dtype, unet, latent, batch));
        rows[^1] = rows[^1] with { Share = rows[^1].Seconds / total };
        rows.Add(new ProfileRow(suite, dtype, "total", tallies.Values.Sum(t => t.Calls), total, 1, tallies.Values.Sum(t => t.Flop) / 1e9,
                                tallies.Values.Sum(t => t.Flop) / 1e9 / total));
        return rows;
    }

    /// <summary>
    /// The fused attention of every transformer block — self-attention over the N image tokens and
    /// cross-attention over the 77 text tokens — timed on random tensors of the shapes the UNet gives
    /// it (once per distinct shape, times the number of layers with it). It is part of "other" above.
    /// </summary>
    static ProfileRow AttentionCore(string suite, string dtype, UNet2DConditionModel unet, int latent, long batch)
    {
        var type = unet.parameters().First().dtype;
        var shapes = unet.CrossAttentionLayers
            .SelectMany(l => { var (h, w) = l.MapSize(latent, latent); return new[] { (l.Heads, l.HeadDim, N: h * w, Keys: h * w), (l.Heads, l.HeadDim, N: h * w, Keys: 77L) }; })
            .GroupBy(x => x).Select(g => (Shape: g.Key, Count: g.Count())).ToList();
        double seconds = 0, flop = 0;
        foreach (var ((heads, dim, n, keys), count) in shapes)
        {
            using var scope = NewDisposeScope();
            var q = randn(batch, heads, n, dim).to(type);
            var kv = randn(batch, heads, keys, dim).to(type);
            functional.scaled_dot_product_attention(q, kv, kv).Dispose();
            var clock = Stopwatch.StartNew();
            functional.scaled_dot_product_attention(q, kv, kv).Dispose();
            seconds += clock.Elapsed.TotalSeconds * count;
            flop += 4.0 * batch * heads * n * keys * dim * count;
        }
        return new ProfileRow(suite, dtype, "SDPA, part of other (timed apart)", shapes.Sum(s => s.Count), seconds, 0, flop / 1e9, flop / 1e9 / seconds);
    }
}
