using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace LayoutGuidance.Weights;

/// <summary>Writes safetensors files: header sorted by name, data in the same order, 8-byte aligned header.</summary>
public static class SafeTensorsWriter
{
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var entries = tensors.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        for (int i = 0; i < entries.Count; i++)
        {
            var name = entries[i].Key;
            if (name == "__metadata__") throw new ArgumentException($"{path}: '__metadata__' is reserved for the metadata map and cannot name a tensor", nameof(tensors));
            if (i > 0 && entries[i - 1].Key == name) throw new ArgumentException($"{path}: two tensors are named '{name}'", nameof(tensors));
            // Lone surrogates have no UTF-8 form; the header would not read back as the same name.
            if (!IsValidUtf16(name)) throw new ArgumentException($"{path}: tensor name '{name}' is not valid Unicode text", nameof(tensors));
        }
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        var contiguous = new List<Tensor>();
        try
        {
            foreach (var (name, t) in entries)
            {
                var c = t.device.type == TorchSharp.DeviceType.CPU ? t.contiguous() : t.cpu().contiguous();
                contiguous.Add(c);
                var dtype = SafeTensorsDTypes.FromScalarType(c.dtype);
                long n = c.numel() * dtype.ElementSize();
                header[name] = new { dtype = dtype.ToString(), shape = c.shape, data_offsets = new[] { offset, offset + n } };
                offset += n;
            }
            var json = JsonSerializer.SerializeToUtf8Bytes(header);
            var padded = (json.Length + 7) / 8 * 8;
            var tmp = path + ".tmp";
            using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write))
            {
                f.Write(BitConverter.GetBytes((ulong)padded));
                f.Write(json);
                for (int i = json.Length; i < padded; i++) f.WriteByte((byte)' ');
                foreach (var c in contiguous)
                    foreach (var chunk in TensorChunks.Of(c))
                        using (chunk) f.Write(chunk.bytes);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            foreach (var c in contiguous) c.Dispose();
        }
    }

    static bool IsValidUtf16(string s)
    {
        try { new UTF8Encoding(false, true).GetByteCount(s); return true; }
        catch (EncoderFallbackException) { return false; }
    }
}
