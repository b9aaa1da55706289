using LayoutGuidance.Native;
using static TorchSharp.torch;

namespace LayoutGuidance.Models;

/// <summary>
/// Builds modules without allocating: inside the scope new parameters live on the meta device (shape
/// and dtype only), so a real 2.6 B-parameter SDXL config can be constructed and checked in
/// milliseconds; <see cref="Weights.ModuleWeights.Load"/> materialises them from a checkpoint.
/// </summary>
public sealed class MetaDevice : IDisposable
{
    readonly Device previous;

    MetaDevice()
    {
        TorchRuntime.Initialize();
        previous = get_default_device();
        set_default_device(device("meta"));
    }

    public static MetaDevice Scope() => new();

    public void Dispose() => set_default_device(previous);
}
