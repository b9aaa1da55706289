namespace LayoutGuidance.Toy;

/// <summary>
/// One image of the shapes data. <see cref="Objects"/> are in caption order (the i-th phrase of the
/// caption is Objects[i]); <see cref="Rgb"/> is <see cref="ShapesDataset.ImageSize"/>² pixels,
/// row-major, 3 bytes per pixel (R, G, B).
/// </summary>
public sealed record ShapeSample(ulong Seed, string Caption, IReadOnlyList<ShapeObject> Objects, byte[] Rgb);
