using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using static TorchSharp.torch;

namespace LayoutGuidance.Outputs;

/// <summary>Writes 8-bit RGB PNG files; enough for generated images and heatmaps without an imaging dependency in the core.</summary>
public static class Png
{
    /// <summary>Image tensor [3,H,W] or [1,3,H,W] with values in [0,1] → RGB bytes, row-major HWC.</summary>
    public static byte[] ToRgb(Tensor image, out int width, out int height)
    {
        using var scope = NewDisposeScope();
        var x = image.dim() == 4 ? image[0] : image;
        height = (int)x.shape[1];
        width = (int)x.shape[2];
        var bytes = (x.detach().to(ScalarType.Float32).cpu().clamp(0.0, 1.0) * 255.0).round().to(ScalarType.Byte).permute(1, 2, 0).contiguous();
        return bytes.data<byte>().ToArray();
    }

    public static void Save(string path, Tensor image)
    {
        var rgb = ToRgb(image, out var width, out var height);
        Save(path, rgb, width, height);
    }

    public static void Save(string path, ReadOnlySpan<byte> rgb, int width, int height)
    {
        if (rgb.Length != width * height * 3) throw new ArgumentException($"expected {width}×{height}×3 bytes, got {rgb.Length}");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        var tmp = path + ".tmp";
        using (var file = File.Create(tmp))
        {
            file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
            var header = new byte[13];
            BinaryPrimitives.WriteInt32BigEndian(header, width);
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
            header[8] = 8; // bit depth
            header[9] = 2; // truecolour
            Chunk(file, "IHDR", header);
            using var raw = new MemoryStream();
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            {
                for (int y = 0; y < height; y++)
                {
                    z.WriteByte(0); // filter: none
                    z.Write(rgb.Slice(y * width * 3, width * 3));
                }
            }
            Chunk(file, "IDAT", raw.ToArray());
            Chunk(file, "IEND", []);
        }
        File.Move(tmp, path, overwrite: true);
    }

    static void Chunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(len, Crc32(typeBytes, data));
        s.Write(len);
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        uint c = (uint)n;
        for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    static uint Crc32(byte[] a, byte[] b)
    {
        uint c = 0xFFFFFFFFu;
        foreach (var x in a) c = CrcTable[(c ^ x) & 0xFF] ^ (c >> 8);
        foreach (var x in b) c = CrcTable[(c ^ x) & 0xFF] ^ (c >> 8);
        return c ^ 0xFFFFFFFFu;
    }
}
