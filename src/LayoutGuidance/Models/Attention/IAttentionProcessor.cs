using static TorchSharp.torch;

namespace LayoutGuidance.Models.Attention;

/// <summary>
/// How an attention layer turns heads of queries, keys and values ([B, heads, N, d], [B, heads, T, d])
/// into outputs ([B, heads, N, d]) — diffusers' attention-processor hook. The projections around it
/// stay in <see cref="Attention"/>, so a processor only decides whether the map is materialised.
/// </summary>
public interface IAttentionProcessor
{
    Tensor Attend(Attention layer, Tensor query, Tensor key, Tensor value);
}
