using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LayoutGuidance.Toy.Training;

/// <summary>
/// Starting weights for training from scratch. TorchSharp 0.107 leaves GroupNorm's affine parameters
/// uninitialised (they may hold NaN); norms start as the identity and embeddings as in transformers' CLIP.
/// Convolutions and linear layers keep TorchSharp's PyTorch-equal default initialisation.
/// </summary>
static class FreshWeights
{
    public static T Initialize<T>(T model) where T : nn.Module
    {
        using var _ = no_grad();
        foreach (var (_, module) in model.named_modules())
        {
            switch (module)
            {
                case GroupNorm norm:
                    norm.weight?.fill_(1.0);
                    norm.bias?.zero_();
                    break;
                case LayerNorm norm:
                    norm.weight?.fill_(1.0);
                    norm.bias?.zero_();
                    break;
                case Embedding embedding:
                    nn.init.normal_(embedding.weight!, 0, 0.02);
                    break;
            }
        }
        foreach (var (name, p) in model.named_parameters())
            if (!p.isfinite().all().item<bool>())
                throw new InvalidOperationException($"parameter {name} is not finite after initialisation");
        return model;
    }
}
