using System.Reflection;
using static TorchSharp.torch;

namespace LayoutGuidance.Weights;

/// <summary>
/// Gives an existing tensor object a different native tensor. Materialising a meta-built module needs
/// this: libtorch refuses <c>set_</c> across devices, and modules read their parameters from fields,
/// registries and (for modules backed by a libtorch module, e.g. Embedding) the native module, so
/// swapping the native tensor under the one managed object every one of them shares updates them all,
/// the way TorchSharp's own <c>Module._to</c> reassigns tensors.
/// </summary>
static class TensorReplacement
{
    static readonly FieldInfo Handle = typeof(Tensor).GetField("handle", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new MissingFieldException($"TorchSharp's {nameof(Tensor)} has no 'handle' field; this TorchSharp version is not supported");

    /// <summary>
    /// Makes <paramref name="target"/> (registered in <paramref name="owner"/> as <paramref name="name"/>)
    /// hold <paramref name="replacement"/>'s native tensor and frees the one it held; <paramref name="replacement"/> ends disposed.
    /// </summary>
    public static void Replace(nn.Module owner, string name, Tensor target, Tensor replacement)
    {
        var old = Handle.GetValue(target);
        Handle.SetValue(target, Handle.GetValue(replacement));
        Handle.SetValue(replacement, old);
        replacement.Dispose();
        // A libtorch-backed module holds its own reference to the old tensor, and its property getter
        // wraps that reference in a new object each time; the setter replaces it. Managed modules return
        // the very object just updated, and some of their setters dispose the current value even when it
        // is assigned to itself (LayerNorm.bias), so they are left alone.
        var property = owner.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .FirstOrDefault(p => p.Name == name && p.CanRead && p.CanWrite && p.GetIndexParameters().Length == 0 && p.PropertyType.IsInstanceOfType(target));
        if (property is not null && !ReferenceEquals(property.GetValue(owner), target))
            property.SetValue(owner, target);
    }
}
