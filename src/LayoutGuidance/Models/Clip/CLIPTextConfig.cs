using LayoutGuidance.Weights;

namespace LayoutGuidance.Models.Clip;

/// <summary>
/// transformers' <c>CLIPTextConfig</c> (text_encoder/config.json), with the defaults of transformers 4.32.
/// Keys that only matter for training (dropout, initializers) are kept so a config round-trips.
/// </summary>
public sealed record CLIPTextConfig
{
    /// <summary>The activations transformers' CLIP configs use.</summary>
    public static IReadOnlyList<string> SupportedHiddenActs { get; } = ["gelu", "quick_gelu"];

    public int VocabSize { get; init; } = 49408;
    public int HiddenSize { get; init; } = 512;
    public int IntermediateSize { get; init; } = 2048;
    public int ProjectionDim { get; init; } = 512;
    public int NumHiddenLayers { get; init; } = 12;
    public int NumAttentionHeads { get; init; } = 8;
    public int MaxPositionEmbeddings { get; init; } = 77;
    public string HiddenAct { get; init; } = "quick_gelu";
    public double LayerNormEps { get; init; } = 1e-5;
    public double AttentionDropout { get; init; }
    public double InitializerRange { get; init; } = 0.02;
    public double InitializerFactor { get; init; } = 1.0;
    public int PadTokenId { get; init; } = 1;
    public int BosTokenId { get; init; } = 49406;

    /// <summary>
    /// 2 in every Stable Diffusion checkpoint (an old default), which selects the legacy pooling at
    /// <c>argmax(input_ids)</c>; any other value pools at the first occurrence of this id.
    /// </summary>
    public int EosTokenId { get; init; } = 49407;

    /// <summary>Reads and validates a config.json; every problem is a <see cref="ConfigException"/> naming the file and key.</summary>
    public static CLIPTextConfig Read(string path)
    {
        var config = DiffusersConfig.Read<CLIPTextConfig>(path);
        config.Validate(path);
        return config;
    }

    /// <summary>Throws <see cref="ConfigException"/> (naming <paramref name="source"/>, the key and its value) for a config the text encoder cannot run.</summary>
    public void Validate(string source = nameof(CLIPTextConfig))
    {
        if (!SupportedHiddenActs.Contains(HiddenAct))
            throw new ConfigException(source, $"hidden_act \"{HiddenAct}\" is not supported; use one of: {string.Join(", ", SupportedHiddenActs)}");
        foreach (var (key, value) in new[]
                 {
                     ("vocab_size", VocabSize), ("hidden_size", HiddenSize), ("intermediate_size", IntermediateSize),
                     ("projection_dim", ProjectionDim), ("num_hidden_layers", NumHiddenLayers),
                     ("num_attention_heads", NumAttentionHeads), ("max_position_embeddings", MaxPositionEmbeddings),
                 })
        {
            if (value < 1) throw new ConfigException(source, $"{key} is {value}; it must be at least 1");
        }
        if (HiddenSize % NumAttentionHeads != 0)
            throw new ConfigException(source, $"hidden_size {HiddenSize} is not divisible by num_attention_heads {NumAttentionHeads}");
        if (!(LayerNormEps > 0))
            throw new ConfigException(source, $"layer_norm_eps is {LayerNormEps}; it must be > 0");
    }
}
