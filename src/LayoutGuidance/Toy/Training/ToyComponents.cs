using LayoutGuidance.Models.Clip;
using LayoutGuidance.Models.UNet;
using LayoutGuidance.Models.Vae;
using LayoutGuidance.Weights;
using static TorchSharp.torch;

namespace LayoutGuidance.Toy.Training;

/// <summary>The trained components as the checkpoint folder holds them.</summary>
static class ToyComponents
{
    /// <summary>The stage-1 VAE in eval mode without gradients, with the scaling factor measured when it was saved.</summary>
    public static AutoencoderKL LoadVae(string checkpointFolder)
    {
        var folder = Path.Combine(checkpointFolder, VaeTrainer.Folder);
        var progress = TrainingState.LoadProgress(folder)
            ?? throw new InvalidOperationException($"{folder} holds no VAE checkpoint: run train-toy --stage vae first");
        var vae = new AutoencoderKL(ToyArchitecture.Vae(progress.ScalingFactor));
        TrainingState.LoadModule(folder, VaeTrainer.WeightsName, vae);
        vae.eval();
        foreach (var p in vae.parameters()) p.requires_grad = false;
        return vae;
    }

    /// <summary>The UNet and text encoder with their EMA weights, in eval mode.</summary>
    public static (UNet2DConditionModel UNet, CLIPTextModel Text) LoadDenoiser(string checkpointFolder)
    {
        var folder = Path.Combine(checkpointFolder, DenoiserTrainer.Folder);
        if (TrainingState.LoadProgress(folder) is null)
            throw new InvalidOperationException($"{folder} holds no UNet checkpoint: run train-toy --stage unet first");
        var unet = new UNet2DConditionModel(ToyArchitecture.UNet);
        var text = new CLIPTextModel(ToyArchitecture.TextEncoder);
        TrainingState.LoadModule(folder, "unet_ema", unet);
        TrainingState.LoadModule(folder, "text_encoder_ema", text);
        unet.eval();
        text.eval();
        return (unet, text);
    }

    public static Dictionary<string, Tensor> ReadTensors(string folder, string name)
    {
        using var checkpoint = Checkpoint.OpenFile(Path.Combine(folder, name + ".safetensors"));
        return checkpoint.LoadAll();
    }
}
