using static TorchSharp.torch;

namespace LayoutGuidance.Models.Clip;

/// <summary>
/// What the text encoders return (transformers' <c>BaseModelOutputWithPooling</c> /
/// <c>CLIPTextModelOutput</c> with <c>output_hidden_states=True</c>). Disposing it disposes every tensor.
/// </summary>
public sealed class CLIPTextOutput : IDisposable
{
    internal CLIPTextOutput(Tensor lastHiddenState, Tensor poolerOutput, IReadOnlyList<Tensor> hiddenStates, Tensor? textEmbeds = null)
    {
        LastHiddenState = lastHiddenState;
        PoolerOutput = poolerOutput;
        HiddenStates = hiddenStates;
        TextEmbeds = textEmbeds;
    }

    /// <summary>[B, S, hidden_size]: the last layer's output after final_layer_norm.</summary>
    public Tensor LastHiddenState { get; }

    /// <summary>[B, hidden_size]: LastHiddenState at each row's end-of-text token.</summary>
    public Tensor PoolerOutput { get; }

    /// <summary>num_hidden_layers + 1 tensors [B, S, hidden_size]: the embeddings, then each layer's output (no final_layer_norm).</summary>
    public IReadOnlyList<Tensor> HiddenStates { get; }

    /// <summary>[B, projection_dim]: text_projection(PoolerOutput); only from <see cref="CLIPTextModelWithProjection"/>.</summary>
    public Tensor? TextEmbeds { get; }

    internal CLIPTextOutput WithTextEmbeds(Tensor textEmbeds) => new(LastHiddenState, PoolerOutput, HiddenStates, textEmbeds);

    public void Dispose()
    {
        LastHiddenState.Dispose();
        PoolerOutput.Dispose();
        foreach (var state in HiddenStates) state.Dispose();
        TextEmbeds?.Dispose();
    }
}
