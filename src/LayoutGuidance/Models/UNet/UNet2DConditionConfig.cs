using System.Text.Json.Serialization;
using LayoutGuidance.Weights;

namespace LayoutGuidance.Models.UNet;

/// <summary>
/// UNet2DConditionModel's config.json (diffusers 0.21; defaults are diffusers'). Per-block values may be
/// written as one int or as a list. Values this implementation does not support are refused by
/// <see cref="Validate"/> rather than silently building another model.
/// </summary>
public sealed record UNet2DConditionConfig
{
    public int SampleSize { get; init; } = 64;
    public int InChannels { get; init; } = 4;
    public int OutChannels { get; init; } = 4;
    public bool CenterInputSample { get; init; }
    public bool FlipSinToCos { get; init; } = true;
    public int FreqShift { get; init; }
    public string[] DownBlockTypes { get; init; } = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"];
    public string? MidBlockType { get; init; } = "UNetMidBlock2DCrossAttn";
    public string[] UpBlockTypes { get; init; } = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"];
    public bool OnlyCrossAttention { get; init; }
    public int[] BlockOutChannels { get; init; } = [320, 640, 1280, 1280];
    [JsonConverter(typeof(IntOrListConverter))] public int[] LayersPerBlock { get; init; } = [2];
    public int DownsamplePadding { get; init; } = 1;
    public double MidBlockScaleFactor { get; init; } = 1;
    public string ActFn { get; init; } = "silu";
    public int? NormNumGroups { get; init; } = 32;
    public double NormEps { get; init; } = 1e-5;
    [JsonConverter(typeof(IntOrListConverter))] public int[] CrossAttentionDim { get; init; } = [1280];
    [JsonConverter(typeof(IntOrListConverter))] public int[] TransformerLayersPerBlock { get; init; } = [1];
    public string? EncoderHidDim { get; init; }
    [JsonConverter(typeof(IntOrListConverter))] public int[] AttentionHeadDim { get; init; } = [8];
    [JsonConverter(typeof(IntOrListConverter))] public int[]? NumAttentionHeads { get; init; }
    public bool DualCrossAttention { get; init; }
    public bool UseLinearProjection { get; init; }
    public string? ClassEmbedType { get; init; }
    public string? AdditionEmbedType { get; init; }
    public int? NumClassEmbeds { get; init; }
    public bool UpcastAttention { get; init; }
    public string ResnetTimeScaleShift { get; init; } = "default";
    public bool ResnetSkipTimeAct { get; init; }
    public double ResnetOutScaleFactor { get; init; } = 1.0;
    public string TimeEmbeddingType { get; init; } = "positional";
    public int? TimeEmbeddingDim { get; init; }
    public string? TimeEmbeddingActFn { get; init; }
    public string? TimestepPostAct { get; init; }
    public int? TimeCondProjDim { get; init; }
    public int ConvInKernel { get; init; } = 3;
    public int ConvOutKernel { get; init; } = 3;
    public int? ProjectionClassEmbeddingsInputDim { get; init; }
    public int? AdditionTimeEmbedDim { get; init; }
    public bool ClassEmbeddingsConcat { get; init; }
    public bool? MidBlockOnlyCrossAttention { get; init; }
    public string? CrossAttentionNorm { get; init; }
    public string AttentionType { get; init; } = "default";

    public static UNet2DConditionConfig Read(string path)
    {
        var config = DiffusersConfig.Read<UNet2DConditionConfig>(path);
        config.Validate(path);
        return config;
    }

    int Blocks => DownBlockTypes.Length;

    /// <summary>A per-block setting expanded to one value per down block.</summary>
    int[] PerBlock(int[] values, string key, string source)
    {
        if (values.Length == 1) return Enumerable.Repeat(values[0], Blocks).ToArray();
        if (values.Length != Blocks)
            throw new ConfigException(source, $"{key} has {values.Length} entries but there are {Blocks} down blocks");
        return values;
    }

    public int[] LayersPerBlockList => PerBlock(LayersPerBlock, "layers_per_block", "config");
    public int[] CrossAttentionDimList => PerBlock(CrossAttentionDim, "cross_attention_dim", "config");
    public int[] TransformerLayersList => PerBlock(TransformerLayersPerBlock, "transformer_layers_per_block", "config");
    /// <summary>Heads per block. diffusers' quirk: without num_attention_heads, attention_head_dim is the number of heads.</summary>
    public int[] HeadsList => PerBlock(NumAttentionHeads ?? AttentionHeadDim, NumAttentionHeads is null ? "attention_head_dim" : "num_attention_heads", "config");
    public int TimeEmbedDim => TimeEmbeddingDim ?? BlockOutChannels[0] * 4;
    public int Groups => NormNumGroups ?? throw new ConfigException("config", "norm_num_groups = null is not supported");

    static readonly string[] DownTypes = ["CrossAttnDownBlock2D", "DownBlock2D"];
    static readonly string[] UpTypes = ["CrossAttnUpBlock2D", "UpBlock2D"];

    public void Validate(string source = "UNet2DConditionConfig")
    {
        void Require(bool ok, string key, object? value, string supported)
        {
            if (!ok) throw new ConfigException(source, $"{key} = {Show(value)} is not supported (supported: {supported})");
        }
        foreach (var t in DownBlockTypes) Require(DownTypes.Contains(t), "down_block_types", t, string.Join(", ", DownTypes));
        foreach (var t in UpBlockTypes) Require(UpTypes.Contains(t), "up_block_types", t, string.Join(", ", UpTypes));
        Require(UpBlockTypes.Length == Blocks, "up_block_types", UpBlockTypes, "as many up blocks as down blocks");
        Require(BlockOutChannels.Length == Blocks, "block_out_channels", BlockOutChannels, "one entry per down block");
        Require(MidBlockType == "UNetMidBlock2DCrossAttn", "mid_block_type", MidBlockType, "UNetMidBlock2DCrossAttn");
        Require(ActFn == "silu", "act_fn", ActFn, "silu");
        Require(!OnlyCrossAttention, "only_cross_attention", OnlyCrossAttention, "false");
        Require(!DualCrossAttention, "dual_cross_attention", DualCrossAttention, "false");
        Require(ClassEmbedType is null && NumClassEmbeds is null, "class_embed_type", ClassEmbedType, "null");
        Require(AdditionEmbedType is null or "text_time", "addition_embed_type", AdditionEmbedType, "null, text_time");
        Require(AdditionEmbedType != "text_time" || (AdditionTimeEmbedDim is not null && ProjectionClassEmbeddingsInputDim is not null),
            "addition_time_embed_dim / projection_class_embeddings_input_dim", null, "both set with text_time");
        Require(EncoderHidDim is null, "encoder_hid_dim", EncoderHidDim, "null");
        Require(ResnetTimeScaleShift == "default", "resnet_time_scale_shift", ResnetTimeScaleShift, "default");
        Require(!ResnetSkipTimeAct && ResnetOutScaleFactor == 1.0, "resnet_skip_time_act / resnet_out_scale_factor", null, "false / 1.0");
        Require(TimeEmbeddingType == "positional", "time_embedding_type", TimeEmbeddingType, "positional");
        Require(TimeEmbeddingActFn is null && TimestepPostAct is null && TimeCondProjDim is null, "time_embedding_act_fn / timestep_post_act / time_cond_proj_dim", null, "null");
        Require(ConvInKernel == 3 && ConvOutKernel == 3, "conv_in_kernel / conv_out_kernel", null, "3");
        Require(!CenterInputSample, "center_input_sample", CenterInputSample, "false");
        Require(CrossAttentionNorm is null, "cross_attention_norm", CrossAttentionNorm, "null");
        Require(AttentionType == "default", "attention_type", AttentionType, "default");
        Require(MidBlockOnlyCrossAttention is null or false, "mid_block_only_cross_attention", MidBlockOnlyCrossAttention, "null, false");
        Require(NormNumGroups is not null, "norm_num_groups", null, "an integer");
        PerBlock(LayersPerBlock, "layers_per_block", source);
        PerBlock(CrossAttentionDim, "cross_attention_dim", source);
        PerBlock(TransformerLayersPerBlock, "transformer_layers_per_block", source);
        var heads = PerBlock(NumAttentionHeads ?? AttentionHeadDim, "attention_head_dim", source);
        for (int i = 0; i < Blocks; i++)
            Require(BlockOutChannels[i] % heads[i] == 0, $"block_out_channels[{i}] / heads", $"{BlockOutChannels[i]} / {heads[i]}", "channels divisible by the number of heads");
    }

    static string Show(object? v) => v switch
    {
        null => "null",
        string s => $"\"{s}\"",
        System.Collections.IEnumerable e => "[" + string.Join(", ", e.Cast<object>()) + "]",
        _ => v.ToString() ?? "",
    };
}
