using static TorchSharp.torch;

namespace LayoutGuidance.Text;

/// <summary>
/// The conditioning of one prompt batch: <c>prompt_embeds</c> [batch, 77, cross_attention_dim] for the
/// UNet's cross-attention and, for SDXL, <c>pooled_prompt_embeds</c> [batch, projection_dim] for its
/// added text-time embedding. Disposing it disposes both.
/// </summary>
public sealed class PromptEmbeddings(Tensor promptEmbeds, Tensor? pooledPromptEmbeds) : IDisposable
{
    public Tensor PromptEmbeds { get; } = promptEmbeds;

    /// <summary>SDXL only; null for SD1.x/SD2.x.</summary>
    public Tensor? PooledPromptEmbeds { get; } = pooledPromptEmbeds;

    internal PromptEmbeddings ZerosLike() => new(zeros_like(PromptEmbeds), PooledPromptEmbeds is null ? null : zeros_like(PooledPromptEmbeds));

    public void Dispose()
    {
        PromptEmbeds.Dispose();
        PooledPromptEmbeds?.Dispose();
    }
}

/// <summary>diffusers' <c>encode_prompt</c> result under classifier-free guidance: the prompt's and the negative prompt's conditioning.</summary>
public sealed class EncodedPrompt(PromptEmbeddings prompt, PromptEmbeddings negative) : IDisposable
{
    public PromptEmbeddings Prompt { get; } = prompt;
    public PromptEmbeddings Negative { get; } = negative;

    public void Dispose()
    {
        Prompt.Dispose();
        Negative.Dispose();
    }
}
