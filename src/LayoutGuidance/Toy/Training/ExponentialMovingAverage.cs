using static TorchSharp.torch;

namespace LayoutGuidance.Toy.Training;

/// <summary>
/// EMA of a module's parameters with diffusers' warm-up (decay = min(max, (1 + n) / (10 + n))), so the
/// average is not dominated by the random initial weights during the first steps.
/// </summary>
sealed class ExponentialMovingAverage : IDisposable
{
    readonly nn.Module module;
    readonly Dictionary<string, Tensor> shadow;
    readonly double maxDecay;

    public ExponentialMovingAverage(nn.Module module, double maxDecay)
    {
        this.module = module;
        this.maxDecay = maxDecay;
        using var _ = no_grad();
        shadow = module.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone().DetachFromDisposeScope());
    }

    public void Update(int step)
    {
        var decay = Math.Min(maxDecay, (1.0 + step) / (10.0 + step));
        using var _ = no_grad();
        foreach (var (name, p) in module.named_parameters())
            shadow[name].mul_(decay).add_(p.detach(), alpha: 1 - decay);
    }

    /// <summary>The module's state dict with the averaged parameters in place of the trained ones (buffers as they are).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateDict() =>
        module.state_dict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, shadow.GetValueOrDefault(kv.Key, kv.Value)));

    /// <summary>Restores the averages from a state dict written by <see cref="StateDict"/>.</summary>
    public void Load(IReadOnlyDictionary<string, Tensor> state)
    {
        using var _ = no_grad();
        foreach (var (name, value) in shadow) value.copy_(state[name]);
    }

    public void Dispose()
    {
        foreach (var t in shadow.Values) t.Dispose();
    }
}
