using System.Text.Json.Serialization;

namespace LayoutGuidance.Schedulers;

/// <summary>How the training betas are laid out (diffusers' <c>beta_schedule</c>).</summary>
public enum BetaSchedule { Linear, ScaledLinear, SquaredcosCapV2 }

/// <summary>What the denoiser predicts (diffusers' <c>prediction_type</c>).</summary>
public enum PredictionType { Epsilon, VPrediction, Sample }

/// <summary>How inference timesteps are picked from the training ones (Lin et al. 2023, table 2).</summary>
public enum TimestepSpacing { Linspace, Leading, Trailing }

/// <summary>
/// A diffusers <c>scheduler_config.json</c>. One record serves every scheduler class, as in diffusers,
/// where <c>from_config</c> hands a config written for one class to another: keys the class does not
/// take are ignored. Defaults are diffusers 0.21's; the nullable ones are those whose default
/// depends on the class (null = absent from the file = the class's own default).
/// </summary>
public sealed record SchedulerConfig
{
    /// <summary>The diffusers class the config was written for, e.g. "PNDMScheduler".</summary>
    [JsonPropertyName("_class_name")]
    public string? ClassName { get; init; }

    public int NumTrainTimesteps { get; init; } = 1000;
    public double BetaStart { get; init; } = 0.0001;
    public double BetaEnd { get; init; } = 0.02;
    public BetaSchedule BetaSchedule { get; init; } = BetaSchedule.Linear;
    public double[]? TrainedBetas { get; init; }
    public PredictionType PredictionType { get; init; } = PredictionType.Epsilon;

    /// <summary>Class default: leading for DDIM and PNDM, linspace for the others.</summary>
    public TimestepSpacing? TimestepSpacing { get; init; }
    public int StepsOffset { get; init; }

    /// <summary>DDIM / PNDM: whether the step after the last uses ᾱ = 1 (else ᾱ_0). Class default: DDIM true, PNDM false.</summary>
    public bool? SetAlphaToOne { get; init; }
    /// <summary>DDIM: clamp the predicted x_0 to ±<see cref="ClipSampleRange"/>. Class default true.</summary>
    public bool? ClipSample { get; init; }
    public double ClipSampleRange { get; init; } = 1.0;
    public bool Thresholding { get; init; }
    public double DynamicThresholdingRatio { get; init; } = 0.995;
    public double SampleMaxValue { get; init; } = 1.0;
    public bool RescaleBetasZeroSnr { get; init; }

    /// <summary>PNDM: run PLMS only, without the Runge–Kutta warm-up.</summary>
    public bool SkipPrkSteps { get; init; }

    /// <summary>LMS / Euler.</summary>
    public bool UseKarrasSigmas { get; init; }
    /// <summary>Euler: how sigmas are interpolated between training timesteps.</summary>
    public string InterpolationType { get; init; } = "linear";

    /// <summary>DPM-Solver multistep.</summary>
    public int SolverOrder { get; init; } = 2;
    public string AlgorithmType { get; init; } = "dpmsolver++";
    public string SolverType { get; init; } = "midpoint";
    public bool LowerOrderFinal { get; init; } = true;
    public double LambdaMinClipped { get; init; } = double.NegativeInfinity;
    public string? VarianceType { get; init; }
}
