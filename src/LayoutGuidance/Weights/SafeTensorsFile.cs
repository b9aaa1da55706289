using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.Json;
using LayoutGuidance.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace LayoutGuidance.Weights;

/// <summary>One tensor's entry in a safetensors header; offsets are relative to the data section.</summary>
public sealed record SafeTensorInfo(string Name, SafeTensorsDType DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// A memory-mapped safetensors file. Opening validates everything a hostile file can lie about, so a
/// tensor read afterwards can only be a bounded copy out of the mapping.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    /// <summary>Headers larger than this are refused (the format's reference reader uses the same bound).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    readonly MemoryMappedFile? map;
    readonly MemoryMappedViewAccessor? view;
    readonly byte* basePtr;
    readonly long dataStart;
    readonly Dictionary<string, SafeTensorInfo> byName;

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    /// <summary>Entries in file order (sorted by offset).</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    SafeTensorsFile(string path)
    {
        Path = path;
        long fileLength;
        try { fileLength = new FileInfo(path).Length; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new SafeTensorsException(path, e.Message); }
        if (!File.Exists(path)) throw new SafeTensorsException(path, "file not found");
        if (fileLength < 8) throw new SafeTensorsException(path, $"file is {fileLength} bytes, shorter than the 8-byte header length");

        map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        view = map.CreateViewAccessor(0, fileLength, MemoryMappedFileAccess.Read);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        basePtr = p + view.PointerOffset;
        try
        {
            var headerLength = BitConverter.ToUInt64(new ReadOnlySpan<byte>(basePtr, 8));
            if (headerLength > MaxHeaderBytes)
                throw new SafeTensorsException(path, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
            if ((long)headerLength > fileLength - 8)
                throw new SafeTensorsException(path, $"header length {headerLength} runs past the end of the {fileLength}-byte file");
            dataStart = 8 + (long)headerLength;
            var (metadata, tensors) = ParseHeader(path, new ReadOnlySpan<byte>(basePtr + 8, (int)headerLength), fileLength - dataStart);
            Metadata = metadata;
            Tensors = tensors;
            byName = tensors.ToDictionary(t => t.Name);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public static SafeTensorsFile Open(string path) => new(System.IO.Path.GetFullPath(path));

    public bool Contains(string name) => byName.ContainsKey(name);

    public SafeTensorInfo this[string name] =>
        byName.TryGetValue(name, out var info) ? info : throw new SafeTensorsException(Path, $"no tensor named '{name}'");

    /// <summary>The raw little-endian bytes of a tensor, straight from the mapping.</summary>
    public ReadOnlySpan<byte> Bytes(SafeTensorInfo info) => new(basePtr + dataStart + info.Begin, checked((int)info.ByteLength));

    /// <summary>Copies a tensor out of the mapping (one copy), then converts to <paramref name="dtype"/> / moves to <paramref name="device"/> if asked.</summary>
    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
    {
        TorchRuntime.Initialize();
        var info = this[name];
        var t = empty(info.Shape, info.DType.ToScalarType());
        if (info.ByteLength > 0)
            new ReadOnlySpan<byte>(basePtr + dataStart + info.Begin, checked((int)info.ByteLength)).CopyTo(t.bytes);
        var wantType = dtype ?? t.dtype;
        var wantDevice = device ?? t.device;
        if (wantType == t.dtype && wantDevice.type == t.device.type && wantDevice.index == t.device.index) return t;
        using (t) return t.to(wantType, wantDevice);
    }

    /// <summary>Every tensor of the file by name.</summary>
    public Dictionary<string, Tensor> LoadAll(ScalarType? dtype = null, Device? device = null) =>
        Tensors.ToDictionary(t => t.Name, t => Load(t.Name, dtype, device));

    public void Dispose()
    {
        if (view != null)
        {
            if (basePtr != null) view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
        }
        map?.Dispose();
    }

    static (Dictionary<string, string>, List<SafeTensorInfo>) ParseHeader(string path, ReadOnlySpan<byte> header, long dataLength)
    {
        JsonDocument doc;
        try
        {
            // Strict UTF-8 first: JsonDocument would otherwise accept some invalid sequences inside strings.
            new UTF8Encoding(false, true).GetCharCount(header);
            doc = JsonDocument.Parse(header.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (Exception e) when (e is JsonException or DecoderFallbackException or ArgumentException)
        {
            throw new SafeTensorsException(path, $"header is not valid UTF-8 JSON ({e.Message})");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsException(path, "header is not a JSON object");
            var metadata = new Dictionary<string, string>();
            var tensors = new List<SafeTensorInfo>();
            var seen = new HashSet<string>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name)) throw new SafeTensorsException(path, $"duplicate entry '{prop.Name}'");
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw new SafeTensorsException(path, "__metadata__ is not an object");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw new SafeTensorsException(path, $"__metadata__ value '{m.Name}' is not a string");
                        if (!metadata.TryAdd(m.Name, m.Value.GetString()!)) throw new SafeTensorsException(path, $"duplicate __metadata__ key '{m.Name}'");
                    }
                    continue;
                }
                tensors.Add(ParseEntry(path, prop.Name, prop.Value));
            }
            tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
            long cursor = 0;
            foreach (var t in tensors)
            {
                if (t.Begin != cursor)
                    throw new SafeTensorsException(path, t.Begin < cursor
                        ? $"tensor '{t.Name}' overlaps the previous tensor (starts at {t.Begin}, previous ends at {cursor})"
                        : $"gap in the data section before tensor '{t.Name}' (bytes {cursor}..{t.Begin})");
                cursor = t.End;
            }
            if (cursor != dataLength)
                throw new SafeTensorsException(path, $"tensors cover {cursor} bytes but the data section holds {dataLength}");
            return (metadata, tensors);
        }
    }

    static SafeTensorInfo ParseEntry(string path, string name, JsonElement e)
    {
        SafeTensorsException Bad(string what) => new(path, $"tensor '{name}': {what}");
        if (e.ValueKind != JsonValueKind.Object) throw Bad("entry is not an object");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Bad("missing dtype");
        if (!DTypeNames.TryGetValue(dt.GetString()!, out var dtype)) throw Bad($"unknown dtype '{dt.GetString()}'");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Bad("missing shape");
        var shape = new List<long>();
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var v) || v < 0)
                throw Bad("shape has a dimension that is not a non-negative integer");
            shape.Add(v);
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad("data_offsets is not a pair");
        var pair = off.EnumerateArray().ToArray();
        if (pair.Any(x => x.ValueKind != JsonValueKind.Number) || !pair[0].TryGetInt64(out var begin) || !pair[1].TryGetInt64(out var end) || begin < 0 || end < begin)
            throw Bad("data_offsets are not ordered non-negative integers");
        long bytes;
        try { bytes = checked(shape.Aggregate(1L, (a, b) => a * b) * dtype.ElementSize()); }
        catch (OverflowException) { throw Bad("shape is too large"); }
        if (bytes != end - begin)
            throw Bad($"shape [{string.Join(", ", shape)}] of {dtype} needs {bytes} bytes but data_offsets span {end - begin}");
        foreach (var extra in e.EnumerateObject())
            if (extra.Name is not ("dtype" or "shape" or "data_offsets")) throw Bad($"unexpected field '{extra.Name}'");
        return new SafeTensorInfo(name, dtype, shape.ToArray(), begin, end);
    }

    static readonly Dictionary<string, SafeTensorsDType> DTypeNames =
        Enum.GetValues<SafeTensorsDType>().ToDictionary(d => d.ToString());
}
