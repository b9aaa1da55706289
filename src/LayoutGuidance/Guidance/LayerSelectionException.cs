namespace LayoutGuidance.Guidance;

/// <summary>A layer selection that cannot be resolved on a UNet; <see cref="Available"/> lists the cross-attention paths it has.</summary>
public sealed class LayerSelectionException(string message, IReadOnlyList<string> available)
    : ArgumentException(available.Count == 0 ? message : $"{message}. Available cross-attention layers:\n  {string.Join("\n  ", available)}")
{
    public IReadOnlyList<string> Available { get; } = available;
}
