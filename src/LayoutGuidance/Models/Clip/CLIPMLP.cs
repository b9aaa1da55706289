using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LayoutGuidance.Models.Clip;

/// <summary>fc1 → hidden_act → fc2.</summary>
internal sealed class CLIPMLP : nn.Module<Tensor, Tensor>
{
    readonly Linear fc1;
    readonly Linear fc2;
    readonly bool quickGelu;

    public CLIPMLP(CLIPTextConfig config) : base(nameof(CLIPMLP))
    {
        fc1 = nn.Linear(config.HiddenSize, config.IntermediateSize);
        fc2 = nn.Linear(config.IntermediateSize, config.HiddenSize);
        // CLIPTextConfig.Validate, run by the models, admits quick_gelu and gelu only.
        quickGelu = config.HiddenAct == "quick_gelu";
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden_states)
    {
        using var scope = NewDisposeScope();
        var x = fc1.call(hidden_states);
        // quick_gelu is OpenAI CLIP's x·σ(1.702x); gelu is the exact erf form.
        var activated = quickGelu ? x * sigmoid(x * 1.702) : nn.functional.gelu(x);
        return fc2.call(activated).MoveToOuterDisposeScope();
    }
}
