using LayoutGuidance.Guidance;

namespace LayoutGuidance.Pipelines;

/// <summary>
/// One text-to-image generation. Unset values take the model's defaults: its layout_guidance.json if
/// it ships one, else diffusers' (50 steps, classifier-free guidance 7.5, the UNet's native size).
/// </summary>
public sealed record GenerationRequest
{
    public required string Prompt { get; init; }
    /// <summary>null = "" for SD; zeros for SDXL with force_zeros_for_empty_prompt, as diffusers.</summary>
    public string? NegativePrompt { get; init; }
    public int? Steps { get; init; }
    public double? GuidanceScale { get; init; }
    public int? Height { get; init; }
    public int? Width { get; init; }
    /// <summary>Seeds a CPU torch generator, so a seed reproduces PyTorch's initial noise.</summary>
    public long Seed { get; init; }
    /// <summary>Run another scheduler class on the model's scheduler config (e.g. "LMSDiscrete", the original layout-guidance code's).</summary>
    public string? Scheduler { get; init; }
    /// <summary>A whole scheduler config replacing the model's (e.g. <see cref="ReferenceSettings.Scheduler"/>); <see cref="Scheduler"/> still picks the class if set.</summary>
    public Schedulers.SchedulerConfig? SchedulerConfig { get; init; }
    /// <summary>Phrases, boxes and the guidance mode; null = plain generation.</summary>
    public LayoutRequest? Layout { get; init; }
    /// <summary>SDXL micro-conditioning; null = the generated size.</summary>
    public (int Height, int Width)? OriginalSize { get; init; }
    public (int Top, int Left) CropsCoordsTopLeft { get; init; } = (0, 0);
    public (int Height, int Width)? TargetSize { get; init; }
}
