using System.Globalization;
using LayoutGuidance.Toy.Training;

// train-toy [--stage vae|unet|all] [--steps N] [--vae-steps N] [--unet-steps N] [--decay-from N] [--decoder-from N] [--resume] [--export] [--evaluate N] [--grid PNG]
//           [--probe-guidance N] [--loss-scale η] [--window start,end] [--loss-threshold E] [--max-iter N]
//           [--attention-loss W] [--checkpoints DIR] [--out DIR] [--threads N]
var options = new ToyTrainingOptions();
for (var i = 0; i < args.Length; i++)
{
    string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
    int Int() => int.Parse(Value(), CultureInfo.InvariantCulture);
    options = args[i] switch
    {
        "--stage" => options with
        {
            Stage = Value() switch
            {
                "vae" => ToyTrainingStage.Vae,
                "unet" => ToyTrainingStage.UNet,
                "all" => ToyTrainingStage.All,
                var s => throw new ArgumentException($"--stage {s}: expected vae, unet or all"),
            },
        },
        "--steps" => options.Stage switch
        {
            ToyTrainingStage.Vae => options with { VaeSteps = Int() },
            ToyTrainingStage.UNet => options with { UNetSteps = Int() },
            _ => throw new ArgumentException("--steps needs --stage vae or --stage unet before it; with all, use --vae-steps and --unet-steps"),
        },
        "--vae-steps" => options with { VaeSteps = Int() },
        "--unet-steps" => options with { UNetSteps = Int() },
        "--decay-from" => options with { UNetDecayFrom = Int() },
        "--decoder-from" => options with { VaeDecoderFrom = Int() },
        "--resume" => options with { Resume = true },
        "--export" => options with { Export = true },
        "--evaluate" => options with { EvaluationSamples = Int() },
        "--grid" => options with { EvaluationGrid = Value() },
        "--probe-guidance" => options with { GuidanceProbeSamples = Int() },
        "--loss-scale" => options with { GuidanceDefaults = options.GuidanceDefaults with { LossScale = double.Parse(Value(), CultureInfo.InvariantCulture) } },
        "--loss-threshold" => options with { GuidanceDefaults = options.GuidanceDefaults with { LossThreshold = double.Parse(Value(), CultureInfo.InvariantCulture) } },
        "--max-iter" => options with { GuidanceDefaults = options.GuidanceDefaults with { MaxIter = Int() } },
        "--window" => options with { GuidanceDefaults = options.GuidanceDefaults with { Window = Value().Split(',').Select(int.Parse).ToArray() } },
        "--attention-loss" => options with { AttentionLossWeight = double.Parse(Value(), CultureInfo.InvariantCulture) },
        "--checkpoints" => options with { CheckpointFolder = Value() },
        "--out" => options with { ExportFolder = Value() },
        "--threads" => options with { Threads = Int() },
        var unknown => throw new ArgumentException($"unknown option {unknown}"),
    };
}
ToyTrainer.Run(options, line => Console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {line}"));
