using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LayoutGuidance.Models.Clip;

/// <summary>The layer stack. Returns every hidden state, its input first (transformers' <c>hidden_states</c>).</summary>
internal sealed class CLIPEncoder : nn.Module<Tensor, IReadOnlyList<Tensor>>
{
    readonly ModuleList<CLIPEncoderLayer> layers;

    public CLIPEncoder(CLIPTextConfig config) : base(nameof(CLIPEncoder))
    {
        layers = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new CLIPEncoderLayer(config)).ToArray());
        RegisterComponents();
    }

    public override IReadOnlyList<Tensor> forward(Tensor inputs_embeds)
    {
        var states = new List<Tensor>(layers.Count + 1) { inputs_embeds };
        foreach (var layer in layers) states.Add(layer.call(states[^1]));
        return states;
    }
}
