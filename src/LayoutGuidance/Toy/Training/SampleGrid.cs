using LayoutGuidance.Outputs;

namespace LayoutGuidance.Toy.Training;

/// <summary>Sample grids of the trainer's evaluation and guidance probe.</summary>
static class SampleGrid
{
    /// <summary>Tiles equal-sized images row by row with a 2-pixel white gutter.</summary>
    public static void Write(string path, IReadOnlyList<byte[]> images, int size, int columns)
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
        Png.Save(path, canvas, width, height);
    }
}
