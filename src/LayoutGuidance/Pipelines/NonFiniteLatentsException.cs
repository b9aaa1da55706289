namespace LayoutGuidance.Pipelines;

/// <summary>The latents held NaN or Inf after a denoising step; the image would be garbage, so generation stops.</summary>
public sealed class NonFiniteLatentsException(int stepIndex, string dtype)
    : Exception($"latents became NaN/Inf after denoising step {stepIndex} (UNet dtype {dtype}). " +
                "Half precision can overflow: try float32 (or bfloat16 instead of float16), or a lower guidance scale or η.")
{
    public int StepIndex { get; } = stepIndex;
}
