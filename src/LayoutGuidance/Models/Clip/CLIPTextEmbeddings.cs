using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LayoutGuidance.Models.Clip;

/// <summary>
/// Token plus learned absolute position embeddings. Positions are always 0..S-1, so the checkpoint's
/// <c>position_ids</c> buffer (a constant arange that transformers ≥ 4.31 no longer saves) is not
/// registered: there is nothing to load into it, and a module built on the meta device keeps no
/// buffer that the weights would never materialise.
/// </summary>
internal sealed class CLIPTextEmbeddings : nn.Module<Tensor, Tensor>
{
    readonly Embedding token_embedding;
    readonly Embedding position_embedding;
    readonly long maxPositions;

    public CLIPTextEmbeddings(CLIPTextConfig config) : base(nameof(CLIPTextEmbeddings))
    {
        token_embedding = nn.Embedding(config.VocabSize, config.HiddenSize);
        position_embedding = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize);
        maxPositions = config.MaxPositionEmbeddings;
        RegisterComponents();
    }

    public override Tensor forward(Tensor input_ids)
    {
        var length = input_ids.shape[^1];
        if (length > maxPositions)
            throw new ArgumentException($"input_ids has {length} tokens; the text encoder has max_position_embeddings {maxPositions}", nameof(input_ids));
        using var positions = arange(length, dtype: ScalarType.Int64, device: input_ids.device);
        using var tokens = token_embedding.call(input_ids);
        using var placed = position_embedding.call(positions);
        return tokens + placed;
    }
}
