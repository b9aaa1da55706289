using LayoutGuidance.Models.Vae;
using static TorchSharp.torch;

namespace LayoutGuidance.Toy.Training;

/// <summary>
/// Stage 1: the autoencoder, on fresh shapes images every step (L1 + L2 reconstruction of a latent sample
/// plus a small KL term), then the latent scaling factor measured on held-out images.
/// </summary>
static class VaeTrainer
{
    public const string Folder = "vae";
    public const string WeightsName = "vae";
    /// <summary>Validation images come from seeds far above any training batch.</summary>
    public const ulong ValidationSeed = 1UL << 40;

    public static void Train(ToyTrainingOptions options, Action<string> echo)
    {
        var folder = Path.Combine(options.CheckpointFolder, Folder);
        Directory.CreateDirectory(folder);
        manual_seed((long)options.Seed);
        using var vae = FreshWeights.Initialize(new AutoencoderKL(ToyArchitecture.Vae()));
        var parameters = vae.parameters().ToList();
        echo($"VAE: {parameters.Sum(p => p.numel()):N0} parameters");
        using var optimizer = optim.AdamW(parameters, options.VaeLearningRate, weight_decay: 0.0);

        var start = 0;
        double? resumedScaling = null, frozenScaling = null;
        if (options.Resume && TrainingState.LoadProgress(folder) is { } progress)
        {
            TrainingState.LoadModule(folder, WeightsName, vae);
            TrainingState.LoadOptimizer(folder, optimizer);
            start = progress.Step;
            resumedScaling = progress.ScalingFactor;
            echo($"VAE: resumed at step {start}");
        }

        var log = new TrainingLog(Path.Combine(folder, "log.csv"), ["loss", "l1", "mse", "kl"], echo);
        vae.train();
        for (var step = start; step < options.VaeSteps; step++)
        {
            using var scope = NewDisposeScope();
            var decoderOnly = step >= options.VaeDecoderFrom;
            if (decoderOnly && frozenScaling is null)
            {
                frozenScaling = step == start && resumedScaling is { } resumed ? resumed : MeasureScalingFactor(vae);
                // A zeroed gradient would still move the encoder through AdamW's moments; a missing one skips it.
                foreach (var (name, parameter) in vae.named_parameters())
                    if (name.StartsWith("encoder.") || name.StartsWith("quant_conv."))
                    {
                        parameter.requires_grad = false;
                        parameter.grad = null;
                    }
                echo($"VAE: from step {step} only the decoder trains; the encoder and scaling factor {frozenScaling:F4} stay");
            }
            if (decoderOnly)
                foreach (var group in optimizer.ParamGroups)
                    group.LearningRate = LearningRateSchedule.At(options.VaeLearningRate, step, 1, options.VaeDecoderFrom, options.VaeSteps);
            // Most steps see latent-aligned 32×32 crops: a quarter of the cost per image, and convolutions do
            // not care; the last fifth sees whole images (a quarter as many) so the mid-block attention and
            // the norms settle at full size. Decoder-only steps see whole images, half a batch.
            var cropping = !decoderOnly && step < options.VaeSteps * 4 / 5;
            var count = cropping ? options.VaeBatch : Math.Max(1, options.VaeBatch / (decoderOnly ? 2 : 4));
            var images = ImageTensors.ToTensor(ShapesDataset.GenerateBatch(options.Seed + (ulong)step * (ulong)options.VaeBatch, count));
            if (cropping)
            {
                var (y, x) = (4 * (step * 7 % 9), 4 * (step * 5 % 9));
                images = images[.., .., y..(y + 32), x..(x + 32)];
            }
            LatentDistribution posterior;
            using (decoderOnly ? no_grad() : null) posterior = vae.Encode(images);
            using var _p = posterior;
            var latents = posterior.Mean + posterior.Std * randn_like(posterior.Std); // reparameterisation
            var reconstruction = vae.Decode(latents);
            var error = reconstruction - images;
            var l1 = error.abs().mean();
            // L1 alone learned the blue–yellow axis of colour and left red–green for later (red and green
            // shapes came back blue and yellow); the squared term pulls hard on such large colour errors.
            var mse = error.square().mean();
            var kl = (posterior.Mean.square() + posterior.LogVar.exp() - 1 - posterior.LogVar).mean() * 0.5;
            var loss = decoderOnly ? l1 + mse : l1 + mse + kl * options.VaeKlWeight;
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            log.Step();

            var done = step + 1;
            if (done % options.LogEvery == 0 || done == options.VaeSteps)
                log.Write(done, [loss.item<float>(), l1.item<float>(), mse.item<float>(), kl.item<float>()]);
            if (done % options.CheckpointEvery == 0 || done == options.VaeSteps)
                Save(folder, vae, optimizer, done, frozenScaling, echo);
        }
        if (start >= options.VaeSteps) echo($"VAE: checkpoint already at step {start}");
    }

    static void Save(string folder, AutoencoderKL vae, optim.Optimizer optimizer, int step, double? frozenScaling, Action<string> echo)
    {
        vae.eval();
        // With the encoder frozen a re-measured factor would differ only by sampling noise, and the UNet
        // was trained with the old one.
        var scaling = frozenScaling ?? MeasureScalingFactor(vae);
        var (psnr, preview) = Validate(vae);
        vae.train();
        TrainingState.SaveModule(folder, WeightsName, vae);
        TrainingState.SaveOptimizer(folder, optimizer);
        TrainingState.SaveProgress(folder, new TrainingState.Progress(step, scaling));
        SampleGrid.Write(Path.Combine(folder, "reconstructions.png"), preview, ShapesDataset.ImageSize, columns: 8);
        echo($"VAE: checkpoint at step {step}, validation PSNR {psnr:F2} dB, scaling factor {scaling:F4}");
    }

    /// <summary>1 / std of latent samples over 256 held-out images, so the UNet sees latents of about unit variance.</summary>
    public static double MeasureScalingFactor(AutoencoderKL vae)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var images = ImageTensors.ToTensor(ShapesDataset.GenerateBatch(ValidationSeed, 256));
        using var posterior = vae.Encode(images);
        var latents = posterior.Mean + posterior.Std * randn_like(posterior.Std);
        return 1.0 / latents.std().item<float>();
    }

    /// <summary>PSNR over 64 held-out images and a grid of originals (odd rows) above reconstructions (even rows).</summary>
    static (double Psnr, byte[][] Preview) Validate(AutoencoderKL vae)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var samples = ShapesDataset.GenerateBatch(ValidationSeed + 1000, 64);
        var images = ImageTensors.ToTensor(samples);
        using var posterior = vae.Encode(images);
        var reconstruction = vae.Decode(posterior.Mean).clamp(-1, 1);
        var mse = ((reconstruction - images) / 2).square().mean().item<float>();
        var originals = ImageTensors.ToRgbBytes(images[..16]);
        var decoded = ImageTensors.ToRgbBytes(reconstruction[..16]);
        var preview = new List<byte[]>();
        for (var row = 0; row < 2; row++)
        {
            preview.AddRange(originals.Skip(row * 8).Take(8));
            preview.AddRange(decoded.Skip(row * 8).Take(8));
        }
        return (10 * Math.Log10(1 / mse), preview.ToArray());
    }
}
