using static TorchSharp.torch;

namespace LayoutGuidance.Text;

/// <summary>
/// Token ids of a prompt batch, int64 [batch, 77], one tensor per tokenizer of the family:
/// <paramref name="InputIds"/> from <c>tokenizer</c>, <paramref name="InputIds2"/> from SDXL's
/// <c>tokenizer_2</c> (which pads differently, so the two are not interchangeable).
/// </summary>
public sealed record PromptTokenIds(Tensor InputIds, Tensor? InputIds2 = null)
{
    public long BatchSize => InputIds.shape[0];
}
