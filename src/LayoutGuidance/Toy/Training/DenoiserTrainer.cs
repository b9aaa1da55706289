using LayoutGuidance.Models.Attention;
using LayoutGuidance.Models.Clip;
using LayoutGuidance.Models.UNet;
using LayoutGuidance.Models.Vae;
using LayoutGuidance.Schedulers;
using LayoutGuidance.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace LayoutGuidance.Toy.Training;

/// <summary>
/// Stage 2: UNet and text encoder together on the frozen VAE's scaled latents. DDPM ε-prediction loss
/// at uniformly drawn timesteps, caption dropout (the empty prompt) for classifier-free guidance, an
/// optional attention-alignment loss, AdamW with gradient clipping, and an EMA of both models for export.
/// </summary>
static class DenoiserTrainer
{
    public const string Folder = "unet";
    const int WarmupSteps = 200;

    /// <summary>
    /// The layers the attention-alignment loss trains (8×8). The guidance defaults also read
    /// down_blocks.1, untrained by this loss, which still placed far more objects (docs/toy-model.md).
    /// </summary>
    public static IReadOnlyList<string> AlignedLayers(UNet2DConditionModel unet) =>
        unet.CrossAttentionLayers.Select(l => l.Path).Where(p => p.StartsWith("mid_block.") || p.StartsWith("up_blocks.0.")).ToArray();

    public static void Train(ToyTrainingOptions options, Action<string> echo)
    {
        var folder = Path.Combine(options.CheckpointFolder, Folder);
        Directory.CreateDirectory(folder);
        using var vae = ToyComponents.LoadVae(options.CheckpointFolder);
        var captions = new ToyCaptions(ClipTokenizer.FromPretrained(options.TokenizerFolder));
        var emptyIds = captions.EmptyPrompt();

        manual_seed((long)options.Seed + 1);
        using var unet = FreshWeights.Initialize(new UNet2DConditionModel(ToyArchitecture.UNet));
        using var text = FreshWeights.Initialize(new CLIPTextModel(ToyArchitecture.TextEncoder));
        var parameters = unet.parameters().Concat(text.parameters()).ToList();
        echo($"UNet: {unet.parameters().Sum(p => p.numel()):N0} parameters; text encoder: {text.parameters().Sum(p => p.numel()):N0}; " +
             $"VAE scaling factor {vae.ScalingFactor:F4}");
        using var optimizer = optim.AdamW(parameters, options.UNetLearningRate, weight_decay: 0.01);
        using var unetEma = new ExponentialMovingAverage(unet, options.EmaDecay);
        using var textEma = new ExponentialMovingAverage(text, options.EmaDecay);

        var start = 0;
        if (options.Resume && TrainingState.LoadProgress(folder) is { } progress)
        {
            TrainingState.LoadModule(folder, "unet", unet);
            TrainingState.LoadModule(folder, "text_encoder", text);
            unetEma.Load(ToyComponents.ReadTensors(folder, "unet_ema"));
            textEma.Load(ToyComponents.ReadTensors(folder, "text_encoder_ema"));
            TrainingState.LoadOptimizer(folder, optimizer);
            start = progress.Step;
            echo($"UNet: resumed at step {start}");
        }

        using var alphasCumprod = NoiseSchedule.AlphasCumprod(NoiseSchedule.Betas(ToyArchitecture.Scheduler));
        var aligned = AlignedLayers(unet);
        var grid = (int)unet.CrossAttentionLayers.First(l => l.Path == aligned[0]).MapSize(ToyArchitecture.LatentSize, ToyArchitecture.LatentSize).Height;
        var log = new TrainingLog(Path.Combine(folder, "log.csv"), ["loss", "mse", "attention"], echo);
        using var generator = new Generator();
        unet.train();
        text.train();
        for (var step = start; step < options.UNetSteps; step++)
        {
            using var scope = NewDisposeScope();
            generator.manual_seed((long)options.Seed * 104729 + step);
            var random = new Random((int)(options.Seed % int.MaxValue) ^ (step * 16777619));
            foreach (var group in optimizer.ParamGroups)
                group.LearningRate = LearningRateSchedule.At(options.UNetLearningRate, step, WarmupSteps, options.UNetDecayFrom, options.UNetSteps);

            var samples = ShapesDataset.GenerateBatch(options.Seed + (1UL << 32) + (ulong)step * (ulong)options.UNetBatch, options.UNetBatch);
            var encoded = samples.Select(captions.Encode).ToArray();
            var dropped = samples.Select(_ => random.NextDouble() < options.CaptionDropout).ToArray();
            var ids = ToyCaptions.Ids(encoded.Select((c, b) => dropped[b] ? emptyIds : c.InputIds).ToArray());

            Tensor latents;
            using (no_grad())
            {
                using var posterior = vae.Encode(ImageTensors.ToTensor(samples));
                latents = (posterior.Mean + posterior.Std * randn(posterior.Std.shape, generator: generator)) * vae.ScalingFactor;
            }
            var timesteps = randint(0, ToyArchitecture.Scheduler.NumTrainTimesteps, [options.UNetBatch], generator: generator);
            var noise = randn(latents.shape, generator: generator);
            var alpha = alphasCumprod[timesteps].reshape(-1, 1, 1, 1);
            var noisy = alpha.sqrt() * latents + (1 - alpha).sqrt() * noise;

            using var output = text.call(ids);
            var attentionOn = options.AttentionLossWeight > 0;
            using var capture = attentionOn ? new AttentionCapture(aligned) : null;
            var prediction = unet.forward(noisy, timesteps, output.LastHiddenState, capture: capture)!;
            var mse = nn.functional.mse_loss(prediction, noise);
            var loss = mse;
            var attention = zeros(1);
            if (capture is not null)
            {
                var steps = timesteps.data<long>().ToArray();
                var include = Enumerable.Range(0, samples.Count).Select(b => !dropped[b] && steps[b] < options.AttentionLossMaxTimestep).ToArray();
                attention = AlignmentLoss(capture, aligned, samples, encoded, include, grid);
                loss = mse + attention * options.AttentionLossWeight;
            }
            optimizer.zero_grad();
            loss.backward();
            var gradientNorm = nn.utils.clip_grad_norm_(parameters, 1.0);
            // A non-finite loss or gradient would poison AdamW's moments (and made TorchSharp's AdamW throw at
            // step 2111 of the first run); such a step is skipped and logged, deterministically on resume too.
            var lossValue = loss.item<float>();
            if (double.IsFinite(gradientNorm) && float.IsFinite(lossValue)) optimizer.step();
            else echo($"UNet: step {step + 1} skipped: loss {lossValue}, gradient norm {gradientNorm}, mse {mse.item<float>()}, attention {attention.item<float>()}");
            unetEma.Update(step);
            textEma.Update(step);
            log.Step();

            var done = step + 1;
            if (done % options.LogEvery == 0 || done == options.UNetSteps)
                log.Write(done, [loss.item<float>(), mse.item<float>(), attention.item<float>()]);
            if (done % options.CheckpointEvery == 0 || done == options.UNetSteps)
            {
                TrainingState.SaveModule(folder, "unet", unet);
                TrainingState.SaveModule(folder, "text_encoder", text);
                TrainingState.SaveModule(folder, "unet_ema", unetEma.StateDict());
                TrainingState.SaveModule(folder, "text_encoder_ema", textEma.StateDict());
                TrainingState.SaveOptimizer(folder, optimizer);
                TrainingState.SaveProgress(folder, new TrainingState.Progress(done, vae.ScalingFactor));
                echo($"UNet: checkpoint at step {done}");
            }
        }
        if (start >= options.UNetSteps) echo($"UNet: checkpoint already at step {start}");
    }

    /// <summary>
    /// Mean over layers and included object tokens of (1 − share of the token's head-averaged attention
    /// inside its object's box)²: layout guidance's energy with the true boxes as the layout.
    /// </summary>
    static Tensor AlignmentLoss(AttentionCapture capture, IReadOnlyList<string> layers, IReadOnlyList<ShapeSample> samples,
        IReadOnlyList<EncodedCaption> captions, bool[] include, int grid)
    {
        var batch = samples.Count;
        var tokens = (int)capture.Maps[layers[0]].shape[2];
        var (masks, weights) = ToyCaptions.TokenBoxMasks(samples, captions, include, grid, tokens);
        var total = weights.sum().clamp_min(1);
        var loss = zeros(1);
        foreach (var map in capture.MapsIn(layers))
        {
            var perToken = map.reshape(batch, -1, map.shape[1], tokens).mean([1]).transpose(1, 2); // [B, tokens, HW]
            var share = (perToken * masks).sum(-1) / (perToken.sum(-1) + 1e-8);
            loss = loss + ((1 - share).square() * weights).sum() / total;
        }
        return loss / layers.Count;
    }
}
