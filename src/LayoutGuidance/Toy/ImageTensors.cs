using static TorchSharp.torch;

namespace LayoutGuidance.Toy;

/// <summary>
/// Between byte RGB images (row-major, 3 bytes per pixel) and the model's image tensors
/// [B, 3, H, W] float32 in [-1, 1] (byte / 127.5 − 1, the diffusers convention).
/// </summary>
public static class ImageTensors
{
    public static Tensor ToTensor(IReadOnlyList<ShapeSample> samples, Device? device = null) =>
        ToTensor(samples.Select(s => s.Rgb).ToArray(), ShapesDataset.ImageSize, ShapesDataset.ImageSize, device);

    public static Tensor ToTensor(IReadOnlyList<byte[]> images, int height, int width, Device? device = null)
    {
        var plane = height * width;
        var values = new float[images.Count * 3 * plane];
        for (var b = 0; b < images.Count; b++)
        {
            var rgb = images[b];
            if (rgb.Length != plane * 3)
                throw new ArgumentException($"image {b} has {rgb.Length} bytes; a {width}×{height} RGB image has {plane * 3}", nameof(images));
            var offset = b * 3 * plane;
            for (var i = 0; i < plane; i++)
            for (var c = 0; c < 3; c++)
                values[offset + c * plane + i] = rgb[i * 3 + c] / 127.5f - 1f;
        }
        var batch = tensor(values, [images.Count, 3, height, width]);
        return device is null ? batch : batch.to(device);
    }

    /// <summary>Per image a byte RGB array; values are clamped to [-1, 1] and rounded to the nearest byte.</summary>
    public static byte[][] ToRgbBytes(Tensor images)
    {
        if (images.dim() != 4 || images.shape[1] != 3)
            throw new ArgumentException($"expected images [B, 3, H, W], got [{string.Join(", ", images.shape)}]", nameof(images));
        using var scope = NewDisposeScope();
        var hwc = images.detach().to(float32).cpu().clamp(-1, 1).add(1).mul(127.5).round().to(uint8).permute(0, 2, 3, 1).contiguous();
        var all = hwc.data<byte>().ToArray();
        var size = all.Length / (int)images.shape[0];
        return Enumerable.Range(0, (int)images.shape[0]).Select(b => all.AsSpan(b * size, size).ToArray()).ToArray();
    }
}
