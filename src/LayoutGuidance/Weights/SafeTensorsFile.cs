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
/// tensor read afterwards can only be a bounded copy out of the mapping: a file either opens and every
/// tensor in it loads, or opening throws a <see cref="SafeTensorsException"/> naming the file.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    /// <summary>Headers larger than this are refused (the format's reference reader uses the same bound).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    // The header is root object → entry object → shape array; anything deeper is not a safetensors header,
    // and the bound keeps a hostile header from recursing the parser.
    const int MaxHeaderDepth = 4;

    static readonly JsonDocumentOptions HeaderJson = new() { MaxDepth = MaxHeaderDepth, AllowDuplicateProperties = false };

    readonly MemoryMappedFile? map;
    readonly MemoryMappedViewAccessor? view;
    readonly byte* basePtr;
    readonly long dataStart;
    readonly Dictionary<string, SafeTensorInfo> byName = [];
    bool disposed;

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; } = new Dictionary<string, string>();
    /// <summary>Entries in file order (sorted by offset).</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; } = [];

    SafeTensorsFile(string path)
    {
        Path = path;
        try
        {
            var file = new FileInfo(path);
            if (!file.Exists)
                throw new SafeTensorsException(path, Directory.Exists(path) ? "is a folder, not a safetensors file" : "file not found");
            long fileLength = file.Length;
            if (fileLength < 8) throw new SafeTensorsException(path, $"file is {fileLength} bytes, shorter than the 8-byte header length");

            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, fileLength, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            basePtr = p + view.PointerOffset;

            var headerLength = BitConverter.ToUInt64(new ReadOnlySpan<byte>(basePtr, 8));
            if (headerLength > MaxHeaderBytes)
                throw new SafeTensorsException(path, $"header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit");
            if ((long)headerLength > fileLength - 8)
                throw new SafeTensorsException(path, $"header length {headerLength} runs past the end of the {fileLength}-byte file");
            dataStart = 8 + (long)headerLength;
            var (metadata, tensors) = ParseHeader(path, new ReadOnlySpan<byte>(basePtr + 8, (int)headerLength), fileLength - dataStart);
            Metadata = metadata;
            Tensors = tensors;
            foreach (var t in tensors) byName.Add(t.Name, t);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Dispose();
            throw new SafeTensorsException(path, e.Message);
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

    /// <summary>The raw little-endian bytes of a tensor of this file, straight from the mapping (tensors under 2 GiB).</summary>
    public ReadOnlySpan<byte> Bytes(SafeTensorInfo info)
    {
        var own = Own(info);
        return new(basePtr + dataStart + own.Begin, checked((int)own.ByteLength));
    }

    /// <summary>Copies a tensor out of the mapping (one copy), then converts to <paramref name="dtype"/> / moves to <paramref name="device"/> if asked.</summary>
    public Tensor Load(string name, ScalarType? dtype = null, Device? device = null)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        TorchRuntime.Initialize();
        var info = this[name];
        // Explicitly on the CPU: the default device may be "meta" while a model is being built.
        var t = empty(info.Shape, info.DType.ToScalarType(), CPU);
        CopyFromMapping(info, t);
        var wantType = dtype ?? t.dtype;
        var wantDevice = device ?? t.device;
        if (wantType == t.dtype && SameDevice(wantDevice, t.device)) return t;
        using (t) return t.to(wantType, wantDevice);
    }

    /// <summary>
    /// Copies a tensor into an existing one of the same shape: straight from the mapping into a contiguous
    /// CPU tensor of the file's dtype, otherwise through <see cref="Load"/> and one converting copy.
    /// Autograd is not involved; callers writing into parameters hold <c>torch.no_grad()</c>.
    /// </summary>
    public void CopyTo(string name, Tensor destination)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var info = this[name];
        if (!destination.shape.SequenceEqual(info.Shape))
            throw new ArgumentException($"{Path}: tensor '{name}' has shape [{string.Join(", ", info.Shape)}], the destination [{string.Join(", ", destination.shape)}]", nameof(destination));
        if (destination.device_type == DeviceType.CPU && destination.dtype == info.DType.ToScalarType() && destination.is_contiguous())
        {
            CopyFromMapping(info, destination);
            return;
        }
        using var loaded = Load(name);
        destination.copy_(loaded);
    }

    /// <summary>Every tensor of the file by name.</summary>
    public Dictionary<string, Tensor> LoadAll(ScalarType? dtype = null, Device? device = null) =>
        Tensors.ToDictionary(t => t.Name, t => Load(t.Name, dtype, device));

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (view != null)
        {
            if (basePtr != null) view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
        }
        map?.Dispose();
    }

    static bool SameDevice(Device a, Device b) => a.type == b.type && a.index == b.index;

    SafeTensorInfo Own(SafeTensorInfo info)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        // Offsets of an entry from another file would address memory outside this mapping.
        if (!byName.TryGetValue(info.Name, out var own) || own.Begin != info.Begin || own.End != info.End)
            throw new ArgumentException($"{Path}: '{info.Name}' is not an entry of this file", nameof(info));
        return own;
    }

    void CopyFromMapping(SafeTensorInfo info, Tensor destination)
    {
        var source = basePtr + dataStart + info.Begin;
        long offset = 0;
        foreach (var chunk in TensorChunks.Of(destination))
            using (chunk)
            {
                var bytes = chunk.bytes;
                new ReadOnlySpan<byte>(source + offset, bytes.Length).CopyTo(bytes);
                offset += bytes.Length;
            }
    }

    static (Dictionary<string, string>, List<SafeTensorInfo>) ParseHeader(string path, ReadOnlySpan<byte> header, long dataLength)
    {
        try { return ParseHeaderJson(path, header, dataLength); }
        catch (InvalidOperationException e)
        {
            // System.Text.Json unescapes strings lazily and throws this for escapes such as a lone "\ud800".
            throw new SafeTensorsException(path, $"header holds a string that is not valid Unicode ({e.Message})");
        }
    }

    static (Dictionary<string, string>, List<SafeTensorInfo>) ParseHeaderJson(string path, ReadOnlySpan<byte> header, long dataLength)
    {
        JsonDocument doc;
        try
        {
            // Strict UTF-8 first: JsonDocument would otherwise accept some invalid sequences inside strings.
            new UTF8Encoding(false, true).GetCharCount(header);
            doc = JsonDocument.Parse(header.ToArray(), HeaderJson);
        }
        catch (Exception e) when (e is JsonException or DecoderFallbackException or ArgumentException)
        {
            throw new SafeTensorsException(path, $"header is not valid UTF-8 JSON without duplicate keys ({e.Message})");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsException(path, "header is not a JSON object");
            var metadata = new Dictionary<string, string>();
            var tensors = new List<SafeTensorInfo>();
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object) throw new SafeTensorsException(path, "__metadata__ is not an object");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw new SafeTensorsException(path, $"__metadata__ value '{m.Name}' is not a string");
                        metadata.Add(m.Name, m.Value.GetString()!);
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
        foreach (var field in e.EnumerateObject())
            if (field.Name is not ("dtype" or "shape" or "data_offsets")) throw Bad($"unexpected field '{field.Name}'");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Bad("missing dtype");
        if (!DTypeNames.TryGetValue(dt.GetString()!, out var dtype)) throw Bad($"unknown dtype '{dt.GetString()}'");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Bad("missing shape");
        var shape = new long[sh.GetArrayLength()];
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var v) || v < 0)
                throw Bad($"shape has a dimension that is not a non-negative integer ({d.GetRawText()})");
            shape[i++] = v;
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad("data_offsets is not a pair");
        var begin = off[0];
        var end = off[1];
        if (begin.ValueKind != JsonValueKind.Number || end.ValueKind != JsonValueKind.Number
            || !begin.TryGetInt64(out var b) || !end.TryGetInt64(out var en) || b < 0 || en < b)
            throw Bad($"data_offsets [{begin.GetRawText()}, {end.GetRawText()}] are not ordered non-negative integers");
        // Strides multiply the sizes with zero dimensions counted as one, so a shape like [0, 2^62, 2^62]
        // holds no bytes yet no tensor of it can be built: the bound is on that product, which also bounds the byte count.
        try { _ = checked(shape.Aggregate(1L, (a, x) => checked(a * Math.Max(x, 1))) * dtype.ElementSize()); }
        catch (OverflowException) { throw Bad($"shape [{string.Join(", ", shape)}] is too large"); }
        long bytes = shape.Aggregate(1L, (a, x) => a * x) * dtype.ElementSize();
        if (bytes != en - b)
            throw Bad($"shape [{string.Join(", ", shape)}] of {dtype} needs {bytes} bytes but data_offsets span {en - b}");
        return new SafeTensorInfo(name, dtype, shape, b, en);
    }

    static readonly Dictionary<string, SafeTensorsDType> DTypeNames =
        Enum.GetValues<SafeTensorsDType>().ToDictionary(d => d.ToString());
}
