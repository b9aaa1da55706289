using static TorchSharp.torch;

namespace LayoutGuidance.Models.Attention;

/// <summary>
/// What one UNet call should record: the cross-attention maps of the named layers (diffusers module
/// paths such as <c>up_blocks.1.attentions.0.transformer_blocks.0.attn2</c>), shaped
/// [batch·heads, H·W, tokens] with rows b·heads+h and spatial index y·W+x. Maps stay in the autograd
/// graph when grad is enabled, so a loss on them backpropagates to the latents. Layers not named run
/// fused attention. With <see cref="StopWhenComplete"/> the UNet returns as soon as the last named map
/// exists (the guided pass needs nothing after it).
/// </summary>
public sealed class AttentionCapture : IDisposable
{
    readonly HashSet<string> paths;
    readonly Dictionary<string, Tensor> maps = new();
    readonly CapturingAttentionProcessor processor;

    public AttentionCapture(IEnumerable<string> paths, bool stopWhenComplete = false, Func<string, Tensor, Tensor>? edit = null)
    {
        this.paths = new HashSet<string>(paths);
        StopWhenComplete = stopWhenComplete;
        EditMap = edit;
        processor = new CapturingAttentionProcessor(this);
    }

    public IReadOnlyCollection<string> Paths => paths;
    public bool StopWhenComplete { get; }
    /// <summary>Optional map edit (forward guidance): (path, probs) → probs, applied before probs·V.</summary>
    public Func<string, Tensor, Tensor>? EditMap { get; }
    /// <summary>Captured maps by path, in the order the forward pass produced them.</summary>
    public IReadOnlyDictionary<string, Tensor> Maps => maps;
    public bool IsComplete => maps.Count == paths.Count;

    /// <summary>The maps in the order of <paramref name="order"/>; a path that was not captured is an error.</summary>
    public IReadOnlyList<Tensor> MapsIn(IEnumerable<string> order) =>
        order.Select(p => maps.TryGetValue(p, out var m) ? m
            : throw new InvalidOperationException($"attention map '{p}' was not captured; captured: {string.Join(", ", maps.Keys)}")).ToList();

    internal IAttentionProcessor? ProcessorFor(string path) => paths.Contains(path) ? processor : null;

    internal Tensor Edit(string path, Tensor probs) => EditMap is null ? probs : EditMap(path, probs);

    internal void Record(string path, Tensor probs)
    {
        if (maps.Remove(path, out var old)) old.Dispose();
        maps[path] = probs.DetachFromDisposeScope();
    }

    /// <summary>Drops the maps of a previous call so the capture can be reused.</summary>
    public void Clear()
    {
        foreach (var m in maps.Values) m.Dispose();
        maps.Clear();
    }

    public void Dispose() => Clear();
}

/// <summary>Unwinds the UNet once every requested map is captured; caught by the UNet's forward.</summary>
sealed class AttentionCaptureComplete : Exception;
