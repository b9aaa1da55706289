using System.Reflection;
using LayoutGuidance.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LayoutGuidance.Weights;

/// <summary>
/// Loads a checkpoint into a module by name: parameter and persistent-buffer names equal checkpoint keys.
/// Every difference (missing, unexpected, shape) is reported at once, before any tensor is touched.
/// Tensors of a module built on the meta device are materialised from the checkpoint.
/// </summary>
public static class ModuleWeights
{
    static readonly FieldInfo BufferRegistry = typeof(nn.Module).GetField("_internal_buffers", BindingFlags.NonPublic | BindingFlags.Instance)
        ?? throw new MissingFieldException("TorchSharp's Module has no '_internal_buffers' field; this TorchSharp version is not supported");

    /// <summary>
    /// Keys that may be present on one side only. Older transformers saved the CLIP text encoder's
    /// <c>position_ids</c> buffer (a constant arange); newer ones do not.
    /// </summary>
    public static IReadOnlySet<string> OptionalKeys { get; } = new HashSet<string>(StringComparer.Ordinal) { "text_model.embeddings.position_ids" };

    /// <summary>
    /// Copies every checkpoint tensor into the module tensor of the same name, under no_grad: one copy
    /// out of the file plus a dtype conversion where needed. A module tensor that is on the meta device,
    /// or whose dtype/device must change, is replaced by the loaded tensor; others are written in place.
    /// </summary>
    /// <param name="dtype">Floating-point dtype for the floating-point tensors (integer buffers keep theirs); default: each module tensor's dtype.</param>
    /// <param name="device">Device for all tensors; default: each module tensor's device, CPU for meta tensors.</param>
    /// <param name="rename">Maps a checkpoint key to the module key, e.g. <see cref="DeprecatedAttentionNames.ToCurrent"/>.</param>
    /// <exception cref="WeightsMismatchException">The checkpoint does not fit the module, or meta tensors remain.</exception>
    public static T Load<T>(T module, Checkpoint checkpoint, ScalarType? dtype = null, Device? device = null, Func<string, string>? rename = null)
        where T : nn.Module
    {
        TorchRuntime.Initialize();
        if (dtype is { } requested && !is_floating_point(requested))
            throw new ArgumentException($"dtype {requested} is not a floating-point type; it applies to the floating-point weights only", nameof(dtype));
        var moduleType = module.GetType().Name;

        var targets = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in module.named_parameters()) targets.Add(name, p);
        foreach (var (name, b) in module.named_buffers(include_nonpersistent: false)) targets.Add(name, b);

        var sources = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in checkpoint.Keys)
        {
            var target = rename is null ? key : rename(key);
            if (!sources.TryAdd(target, key))
                throw new ArgumentException($"the rename hook maps both '{sources[target]}' and '{key}' to '{target}'", nameof(rename));
        }

        var missing = targets.Keys.Where(k => !sources.ContainsKey(k) && !OptionalKeys.Contains(k)).Order(StringComparer.Ordinal).ToList();
        var unexpected = sources.Where(kv => !targets.ContainsKey(kv.Key) && !OptionalKeys.Contains(kv.Key))
            .Select(kv => kv.Value).Order(StringComparer.Ordinal).ToList();
        var shapes = new List<ShapeMismatch>();
        foreach (var key in targets.Keys.Where(sources.ContainsKey).Order(StringComparer.Ordinal))
        {
            var fileShape = checkpoint[sources[key]].Shape;
            var moduleShape = targets[key].shape;
            if (!fileShape.SequenceEqual(moduleShape)) shapes.Add(new ShapeMismatch(key, fileShape, moduleShape));
        }
        if (missing.Count > 0 || unexpected.Count > 0 || shapes.Count > 0)
            throw new WeightsMismatchException(checkpoint.Path, moduleType, missing, unexpected, shapes, []);

        var owners = module.named_modules().ToDictionary(m => m.name, m => m.module);
        using (no_grad())
        {
            foreach (var (key, target) in targets)
            {
                if (!sources.TryGetValue(key, out var source)) continue;
                var dot = key.LastIndexOf('.');
                var owner = dot < 0 ? module : owners[key[..dot]];
                Assign(checkpoint, source, owner, key[(dot + 1)..], target, dtype, device);
            }
        }

        var leftOnMeta = module.named_parameters().Where(p => p.parameter.is_meta).Select(p => p.name)
            .Concat(AllBuffers(module).Where(b => b.buffer.is_meta).Select(b => b.name))
            .Order(StringComparer.Ordinal).ToList();
        if (leftOnMeta.Count > 0)
            throw new WeightsMismatchException(checkpoint.Path, moduleType, [], [], [], leftOnMeta);
        return module;
    }

    // TorchSharp 0.107's named_buffers skips non-persistent buffers even with include_nonpersistent: true,
    // so they are read from the module's buffer registry.
    static IEnumerable<(string name, Tensor buffer)> AllBuffers(nn.Module module)
    {
        foreach (var (prefix, m) in module.named_modules().Prepend(("", module)))
            foreach (var (name, (buffer, _)) in (IEnumerable<(string, (Tensor, bool))>)BufferRegistry.GetValue(m)!)
                yield return (prefix.Length == 0 ? name : $"{prefix}.{name}", buffer);
    }

    static void Assign(Checkpoint checkpoint, string source, nn.Module owner, string name, Tensor target, ScalarType? dtype, Device? device)
    {
        var wantType = dtype is { } d && is_floating_point(target.dtype) ? d : target.dtype;
        var wantDevice = device ?? (target.is_meta ? CPU : target.device);
        if (!target.is_meta && target.dtype == wantType && target.device_type == wantDevice.type && target.device_index == wantDevice.index)
        {
            checkpoint.CopyTo(source, target);
            return;
        }
        var loaded = checkpoint.Load(source, wantType, wantDevice);
        if (target is TorchSharp.Modules.Parameter p) loaded.requires_grad = p.requires_grad;
        TensorReplacement.Replace(owner, name, target, loaded);
    }
}
