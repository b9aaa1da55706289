using LayoutGuidance.Weights;

namespace LayoutGuidance.Models.Vae;

/// <summary>AutoencoderKL's config.json (diffusers 0.21 defaults).</summary>
public sealed record AutoencoderKLConfig
{
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    public string[] DownBlockTypes { get; init; } = ["DownEncoderBlock2D"];
    public string[] UpBlockTypes { get; init; } = ["UpDecoderBlock2D"];
    public int[] BlockOutChannels { get; init; } = [64];
    public int LayersPerBlock { get; init; } = 1;
    public string ActFn { get; init; } = "silu";
    public int LatentChannels { get; init; } = 4;
    public int NormNumGroups { get; init; } = 32;
    public int SampleSize { get; init; } = 32;
    public double ScalingFactor { get; init; } = 0.18215;
    /// <summary>Keep the VAE in float32 even when the rest runs in half precision (the SDXL VAE overflows in fp16); the pipeline loader honours it.</summary>
    public bool ForceUpcast { get; init; } = true;

    public static AutoencoderKLConfig Read(string path)
    {
        var config = DiffusersConfig.Read<AutoencoderKLConfig>(path);
        config.Validate(path);
        return config;
    }

    public void Validate(string source = "AutoencoderKLConfig")
    {
        void Require(bool ok, string what) { if (!ok) throw new ConfigException(source, what); }
        Require(DownBlockTypes.All(t => t == "DownEncoderBlock2D"), $"down_block_types [{string.Join(", ", DownBlockTypes)}] is not supported (supported: DownEncoderBlock2D)");
        Require(UpBlockTypes.All(t => t == "UpDecoderBlock2D"), $"up_block_types [{string.Join(", ", UpBlockTypes)}] is not supported (supported: UpDecoderBlock2D)");
        Require(DownBlockTypes.Length == BlockOutChannels.Length && UpBlockTypes.Length == BlockOutChannels.Length,
            "down_block_types, up_block_types and block_out_channels must have the same length");
        Require(ActFn == "silu", $"act_fn = \"{ActFn}\" is not supported (supported: silu)");
    }
}
