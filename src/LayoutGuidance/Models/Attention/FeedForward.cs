using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace LayoutGuidance.Models.Attention;

/// <summary>GEGLU feed-forward: keys ff.net.0.proj (gate and value in one projection) and ff.net.2.</summary>
public sealed class FeedForward : Module<Tensor, Tensor>
{
    readonly ModuleList<Module> net;

    public FeedForward(long dim, long mult = 4) : base(nameof(FeedForward))
    {
        var inner = dim * mult;
        net = new ModuleList<Module>(new GEGLU(dim, inner), Dropout(0.0), Linear(inner, dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        using var gated = ((GEGLU)net[0]).call(input);
        return ((Linear)net[2]).call(gated);
    }

    sealed class GEGLU : Module<Tensor, Tensor>
    {
        readonly Linear proj;

        public GEGLU(long dimIn, long dimOut) : base(nameof(GEGLU))
        {
            proj = Linear(dimIn, dimOut * 2);
            RegisterComponents();
        }

        public override Tensor forward(Tensor input)
        {
            using var scope = NewDisposeScope();
            var halves = proj.call(input).chunk(2, -1);
            return (halves[0] * functional.gelu(halves[1])).MoveToOuterDisposeScope();
        }
    }
}
