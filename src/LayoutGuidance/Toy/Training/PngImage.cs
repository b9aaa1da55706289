using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace LayoutGuidance.Toy.Training;

/// <summary>Writes 8-bit RGB PNG files (one IDAT, no filtering): enough to look at samples without an imaging library.</summary>
static class PngImage
{
    public static void Write(string path, byte[] rgb, int width, int height)
    {
        if (rgb.Length != width * height * 3)
            throw new ArgumentException($"a {width}×{height} RGB image has {width * height * 3} bytes, got {rgb.Length}", nameof(rgb));
        using var file = File.Create(path);
        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 2; // colour type RGB
        Chunk(file, "IHDR", header);
        using var raw = new MemoryStream();
        using (var zlib = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            for (var y = 0; y < height; y++)
            {
                zlib.WriteByte(0); // filter: none
                zlib.Write(rgb, y * width * 3, width * 3);
            }
        Chunk(file, "IDAT", raw.ToArray());
        Chunk(file, "IEND", []);
    }

    /// <summary>Tiles equal-sized images row by row with a 2-pixel white gutter.</summary>
    public static void WriteGrid(string path, IReadOnlyList<byte[]> images, int size, int columns)
    {
        const int gutter = 2;
        var rows = (images.Count + columns - 1) / columns;
        int width = columns * (size + gutter) + gutter, height = rows * (size + gutter) + gutter;
        var canvas = new byte[width * height * 3];
        Array.Fill(canvas, (byte)255);
        for (var i = 0; i < images.Count; i++)
        {
            int x0 = gutter + i % columns * (size + gutter), y0 = gutter + i / columns * (size + gutter);
            for (var y = 0; y < size; y++)
                Array.Copy(images[i], y * size * 3, canvas, ((y0 + y) * width + x0) * 3, size * 3);
        }
        Write(path, canvas, width, height);
    }

    static void Chunk(Stream stream, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        stream.Write(word);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        stream.Write(typeBytes);
        stream.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(word, Crc32(typeBytes, data));
        stream.Write(word);
    }

    static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    static uint Crc32(byte[] type, byte[] data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in type) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        foreach (var b in data) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc ^ 0xFFFFFFFFu;
    }
}
