namespace LayoutGuidance.Guidance;

/// <summary>Which transformer blocks of a selected attention (Transformer2DModel) give guided maps.</summary>
public enum TransformerBlocks
{
    /// <summary>Only the last block's attn2, as the reference does (SDXL attentions hold up to 10 blocks).</summary>
    Last,
    /// <summary>Every block's attn2.</summary>
    All,
}
