using System.Diagnostics;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Bench;

/// <summary>
/// Splits one run's wall time by module type with forward hooks on every Conv2d, Linear, GroupNorm and
/// LayerNorm (the CPU executes synchronously, so a hook pair brackets exactly that module's work) and
/// counts the FLOPs the convolutions and linear layers actually did, from their weight and tensor shapes.
/// What is left ("other") is attention (fused SDPA), activations, residual adds, concatenation,
/// upsampling and layout copies.
/// </summary>
static class OpProfile
{
    sealed class Tally
    {
        public int Calls;
        public double Seconds;
        public double Flop;
    }

    public static List<ProfileRow> Measure(string suite, string dtype, Module unet, Action run)
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
        rows.Add(new ProfileRow(suite, dtype, "total", tallies.Values.Sum(t => t.Calls), total, 1, tallies.Values.Sum(t => t.Flop) / 1e9,
                                tallies.Values.Sum(t => t.Flop) / 1e9 / total));
        return rows;
    }
}
