namespace LayoutGuidance.Evaluation;

/// <summary>Thresholds of <see cref="ShapeDetector"/>; the defaults are tuned on clean and degraded shapes images.</summary>
public sealed record ShapeDetectorOptions
{
    /// <summary>
    /// Chroma (max − min of R, G, B, in [0, 1]) a pixel needs to be considered part of an object at all.
    /// The grey background stays well below it; palette colours sit at 0.5–0.9.
    /// </summary>
    public double SeedChroma { get; init; } = 0.2;

    /// <summary>
    /// A blob's edge, as a fraction of its peak chroma. Blurring a shape against a grey background
    /// scales chroma with coverage, so 0.5 puts the edge where the shape covers half a pixel, wherever
    /// the blur and however saturated the blob came out.
    /// </summary>
    public double EdgeFraction { get; init; } = 0.5;

    /// <summary>
    /// Blobs with fewer interior pixels (all four neighbours in the blob) are dropped: they are noise,
    /// or the seam where two touching objects of different colours blend into a third hue.
    /// </summary>
    public int MinInteriorPixels { get; init; } = 6;
}
