using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LayoutGuidance.Models.Clip;

/// <summary>Embeddings → encoder → final_layer_norm → pooling; the <c>text_model</c> of both text encoders.</summary>
internal sealed class CLIPTextTransformer : nn.Module<Tensor, CLIPTextOutput>
{
    readonly CLIPTextEmbeddings embeddings;
    readonly CLIPEncoder encoder;
    readonly LayerNorm final_layer_norm;
    readonly int eosTokenId;

    public CLIPTextTransformer(CLIPTextConfig config) : base(nameof(CLIPTextTransformer))
    {
        embeddings = new CLIPTextEmbeddings(config);
        encoder = new CLIPEncoder(config);
        final_layer_norm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        eosTokenId = config.EosTokenId;
        RegisterComponents();
    }

    public override CLIPTextOutput forward(Tensor input_ids)
    {
        if (input_ids.dim() != 2 || input_ids.dtype != ScalarType.Int64)
            throw new ArgumentException($"input_ids must be an int64 tensor [batch, tokens]; got {input_ids.dtype} [{string.Join(", ", input_ids.shape)}]", nameof(input_ids));
        using var scope = NewDisposeScope();
        var hiddenStates = encoder.call(embeddings.call(input_ids));
        var last = final_layer_norm.call(hiddenStates[^1]);
        // eos_token_id 2 is the legacy configuration: the end-of-text token has the largest id in the
        // CLIP vocabulary, so argmax finds its first occurrence (argmax returns the first maximum).
        using var endOfText = eosTokenId == 2
            ? input_ids.argmax(-1)
            : input_ids.eq(eosTokenId).to(ScalarType.Int32).argmax(-1);
        using var rows = arange(input_ids.shape[0], dtype: ScalarType.Int64, device: input_ids.device);
        var pooled = last.index(TensorIndex.Tensor(rows), TensorIndex.Tensor(endOfText));
        foreach (var state in hiddenStates) state.MoveToOuterDisposeScope();
        return new CLIPTextOutput(last.MoveToOuterDisposeScope(), pooled.MoveToOuterDisposeScope(), hiddenStates);
    }
}
