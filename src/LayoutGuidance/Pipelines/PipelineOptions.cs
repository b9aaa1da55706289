using LayoutGuidance.Text;
using static TorchSharp.torch;

namespace LayoutGuidance.Pipelines;

/// <summary>How to load a pipeline: runtime device and dtype, weight-file variant, tokenizer text cleanup.</summary>
public sealed record PipelineOptions
{
    /// <summary>"cpu", "cuda", "cuda:1".</summary>
    public string Device { get; init; } = "cpu";
    /// <summary>UNet and text-encoder dtype; the VAE stays float32 when its config says force_upcast.</summary>
    public ScalarType DType { get; init; } = ScalarType.Float32;
    /// <summary>Weight-file variant, e.g. "fp16" for diffusion_pytorch_model.fp16.safetensors.</summary>
    public string? Variant { get; init; }
    public ClipTextNormalization TextNormalization { get; init; } = ClipTextNormalization.BasicTokenizer;
    /// <summary>Models root for short names (sd15, sd21, sd21-base, sdxl); default LAYOUTGUIDANCE_MODELS or ~/models.</summary>
    public string? ModelsRoot { get; init; }

    /// <summary>"float32", "fp32", "bfloat16", "bf16", "float16", "fp16" → dtype, with a clear error otherwise.</summary>
    public static ScalarType ParseDType(string name) => name.ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" or "half" => ScalarType.Float16,
        _ => throw new ArgumentException($"dtype '{name}' is not supported; use float32, bfloat16 or float16"),
    };
}
