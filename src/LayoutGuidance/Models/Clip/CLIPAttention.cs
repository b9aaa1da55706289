using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LayoutGuidance.Models.Clip;

/// <summary>
/// Multi-head causal self-attention. The reference adds a causal mask (dtype minimum above the
/// diagonal) and no padding mask, which is what SDPA's causal mode computes.
/// </summary>
internal sealed class CLIPAttention : nn.Module<Tensor, Tensor>
{
    readonly Linear k_proj;
    readonly Linear v_proj;
    readonly Linear q_proj;
    readonly Linear out_proj;
    readonly long heads;
    readonly long headDim;

    public CLIPAttention(CLIPTextConfig config) : base(nameof(CLIPAttention))
    {
        k_proj = nn.Linear(config.HiddenSize, config.HiddenSize);
        v_proj = nn.Linear(config.HiddenSize, config.HiddenSize);
        q_proj = nn.Linear(config.HiddenSize, config.HiddenSize);
        out_proj = nn.Linear(config.HiddenSize, config.HiddenSize);
        heads = config.NumAttentionHeads;
        headDim = config.HiddenSize / config.NumAttentionHeads;
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden_states)
    {
        using var scope = NewDisposeScope();
        var (batch, length, width) = (hidden_states.shape[0], hidden_states.shape[1], hidden_states.shape[2]);
        Tensor Heads(Linear projection) => projection.call(hidden_states).view(batch, length, heads, headDim).transpose(1, 2);
        var attended = nn.functional.scaled_dot_product_attention(Heads(q_proj), Heads(k_proj), Heads(v_proj), is_casual: true);
        return out_proj.call(attended.transpose(1, 2).reshape(batch, length, width)).MoveToOuterDisposeScope();
    }
}
