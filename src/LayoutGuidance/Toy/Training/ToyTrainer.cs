using LayoutGuidance.Native;
using static TorchSharp.torch;

namespace LayoutGuidance.Toy.Training;

/// <summary>
/// Trains the toy model in two stages (VAE, then UNet with its text encoder on the VAE's latents) and
/// exports it as a diffusers-layout model folder. Deterministic for a seed and thread count.
/// </summary>
public static class ToyTrainer
{
    public static void Run(ToyTrainingOptions options, Action<string> echo)
    {
        TorchRuntime.Initialize();
        set_num_threads(options.Threads);
        echo($"torch threads: {get_num_threads()}");
        if (options.Stage is ToyTrainingStage.Vae or ToyTrainingStage.All && options.VaeSteps > 0)
            VaeTrainer.Train(options, echo);
        if (options.Stage is ToyTrainingStage.UNet or ToyTrainingStage.All && options.UNetSteps > 0)
            DenoiserTrainer.Train(options, echo);
        if (options.EvaluationSamples > 0)
        {
            var defaults = options.GuidanceDefaults;
            ToyEvaluation.Evaluate(options, options.EvaluationSamples, options.EvaluationGrid, defaults.NumInferenceSteps, defaults.GuidanceScale, echo);
        }
        if (options.GuidanceProbeSamples > 0)
            ToyGuidanceProbe.Run(options, options.GuidanceProbeSamples, echo);
        if (options.Export)
            ToyExport.Export(options, echo);
    }
}
