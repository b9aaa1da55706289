namespace LayoutGuidance.Text;

/// <summary>
/// Turns token ids into UNet conditioning the way diffusers 0.21's pipelines do (<c>encode_prompt</c>).
/// Encoding runs without autograd: guidance differentiates with respect to the latents only.
/// </summary>
public abstract class PromptEncoder
{
    /// <summary>The conditioning of a batch of token ids.</summary>
    public abstract PromptEmbeddings Encode(PromptTokenIds ids);

    /// <summary>
    /// True where a missing negative prompt means all-zero negative conditioning (SDXL with
    /// <c>force_zeros_for_empty_prompt</c>); otherwise the pipeline embeds the empty prompt "".
    /// </summary>
    public abstract bool ZerosForMissingNegativePrompt { get; }

    /// <summary>Conditioning for classifier-free guidance.</summary>
    /// <param name="prompt">Token ids of the prompts.</param>
    /// <param name="negativePrompt">
    /// Token ids of the negative prompts, the same batch size. Where none was given: null if
    /// <see cref="ZerosForMissingNegativePrompt"/>, else the token ids of "" (as diffusers embeds it).
    /// </param>
    public EncodedPrompt EncodePrompt(PromptTokenIds prompt, PromptTokenIds? negativePrompt)
    {
        if (negativePrompt is null && !ZerosForMissingNegativePrompt)
            throw new ArgumentNullException(nameof(negativePrompt),
                "this pipeline embeds the empty prompt when there is no negative prompt: pass the token ids of \"\"");
        if (negativePrompt is not null && negativePrompt.BatchSize != prompt.BatchSize)
            throw new ArgumentException($"negative prompt batch {negativePrompt.BatchSize} differs from prompt batch {prompt.BatchSize}", nameof(negativePrompt));
        var positive = Encode(prompt);
        try
        {
            return new EncodedPrompt(positive, negativePrompt is null ? positive.ZerosLike() : Encode(negativePrompt));
        }
        catch
        {
            positive.Dispose();
            throw;
        }
    }
}
