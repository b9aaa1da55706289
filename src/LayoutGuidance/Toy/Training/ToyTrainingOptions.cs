namespace LayoutGuidance.Toy.Training;

public enum ToyTrainingStage { Vae, UNet, All }

/// <summary>
/// Settings of one trainer run. Steps are totals: a resumed run continues from the step its
/// checkpoint reached up to <see cref="VaeSteps"/> / <see cref="UNetSteps"/>.
/// </summary>
public sealed record ToyTrainingOptions
{
    public ToyTrainingStage Stage { get; init; } = ToyTrainingStage.All;
    /// <summary>Git-ignored folder for checkpoints, optimizer state and logs.</summary>
    public string CheckpointFolder { get; init; } = ".toy-training";
    /// <summary>Where <see cref="Export"/> writes the diffusers-layout model folder.</summary>
    public string ExportFolder { get; init; } = "models/toy";
    public bool Resume { get; init; }
    /// <summary>Export the UNet stage's checkpoint (EMA weights, fp16) after training, or alone with 0 steps.</summary>
    public bool Export { get; init; }
    /// <summary>The caption vocabulary's committed tokenizer files.</summary>
    public string TokenizerFolder { get; init; } = "src/LayoutGuidance/Toy/tokenizer";
    /// <summary>Held-out captions to sample and score with the shape detector after training (0 = none).</summary>
    public int EvaluationSamples { get; init; }
    /// <summary>Held-out layouts to sample with a few guidance settings around <see cref="GuidanceDefaults"/> (0 = none).</summary>
    public int GuidanceProbeSamples { get; init; }
    public string EvaluationGrid { get; init; } = "docs/toy-samples.png";
    public ulong Seed { get; init; } = 20240101;
    public int Threads { get; init; } = 2;

    public int VaeSteps { get; init; } = 800;
    /// <summary>32×32 crops per step; the whole-image steps at the end take a quarter as many images.</summary>
    public int VaeBatch { get; init; } = 16;
    public double VaeLearningRate { get; init; } = 1e-3;
    /// <summary>
    /// Step from which only the decoder (post_quant_conv and decoder) trains, on whole images, with a cosine
    /// learning rate to zero at <see cref="VaeSteps"/>; the encoder, and so the latent space and its scaling
    /// factor, stay as they were, so a UNet trained on those latents keeps working (null: never).
    /// </summary>
    public int? VaeDecoderFrom { get; init; }
    /// <summary>Weight of the KL term (mean over latent elements) against the L1 reconstruction loss (mean over pixels).</summary>
    public double VaeKlWeight { get; init; } = 1e-4;

    public int UNetSteps { get; init; } = 4000;
    public int UNetBatch { get; init; } = 16;
    public double UNetLearningRate { get; init; } = 1e-3;
    /// <summary>
    /// Step from which the UNet's learning rate follows a cosine from full down to zero at
    /// <see cref="UNetSteps"/> (null: constant after warm-up). A function of the step, so a resumed run
    /// continues the same curve; set it to the step a checkpoint reached to anneal a run that was constant.
    /// </summary>
    public int? UNetDecayFrom { get; init; }
    public double CaptionDropout { get; init; } = 0.1;
    public double EmaDecay { get; init; } = 0.999;

    /// <summary>
    /// Weight of the attention-alignment loss: for each object token, (1 − share of its cross-attention
    /// inside the object's true box)² in mid_block and up_blocks.0, the layout-guidance energy with the truth as
    /// the layout. It teaches the small model to attend where it draws, which layout guidance relies on.
    /// 0 turns it off.
    /// </summary>
    public double AttentionLossWeight { get; init; } = 0.5;
    /// <summary>The alignment loss applies to timesteps below this; above it the noisy latent says too little about where objects are.</summary>
    public int AttentionLossMaxTimestep { get; init; } = 800;

    /// <summary>Written to layout_guidance.json on export.</summary>
    public ToyGuidanceDefaults GuidanceDefaults { get; init; } = new();

    public int LogEvery { get; init; } = 10;
    public int CheckpointEvery { get; init; } = 200;
}
