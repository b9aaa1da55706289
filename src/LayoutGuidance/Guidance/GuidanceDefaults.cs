using System.Text.Json.Serialization;
using LayoutGuidance.Weights;

namespace LayoutGuidance.Guidance;

/// <summary>
/// A model folder's own guidance defaults (<c>layout_guidance.json</c> beside model_index.json). Small
/// or distilled models focus their cross-attention only mid-sampling, so they ship the window, Γ and η
/// that work for them; folders without the file get the paper's defaults.
/// </summary>
public sealed record GuidanceDefaults
{
    public const string FileName = "layout_guidance.json";

    public string? GuidedLayers { get; init; }
    /// <summary>[start, end) step indices.</summary>
    public int[]? Window { get; init; }
    public double? LossScale { get; init; }
    public int? MaxIter { get; init; }
    public double? LossThreshold { get; init; }
    public int? NumInferenceSteps { get; init; }
    public double? GuidanceScale { get; init; }
    [JsonPropertyName("forward_strength")] public double? ForwardStrength { get; init; }

    /// <summary>The folder's file, or null when it has none.</summary>
    public static GuidanceDefaults? Read(string modelFolder)
    {
        var path = Path.Combine(modelFolder, FileName);
        if (!File.Exists(path)) return null;
        var d = DiffusersConfig.Read<GuidanceDefaults>(path);
        if (d.Window is { Length: not 2 }) throw new ConfigException(path, "window must be [start, end]");
        return d;
    }

    /// <summary>Backward-guidance options: the paper's, overridden by what this file sets.</summary>
    public BackwardGuidanceOptions Backward(string family)
    {
        var o = new BackwardGuidanceOptions { Layers = LayerSelection.ForFamily(family) };
        if (GuidedLayers is not null) o = o with { Layers = LayerSelection.Parse(GuidedLayers) };
        if (Window is { } w) o = o with { Window = new StepWindow(w[0], w[1]) };
        if (LossScale is { } eta) o = o with { LossScale = eta };
        if (MaxIter is { } n) o = o with { MaxIterations = n };
        if (LossThreshold is { } th) o = o with { LossThreshold = th };
        return o;
    }
}
