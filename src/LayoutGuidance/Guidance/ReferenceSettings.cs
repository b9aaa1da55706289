using LayoutGuidance.Schedulers;

namespace LayoutGuidance.Guidance;

/// <summary>
/// The original layout-guidance code's generation setup (its config and inference script), for
/// paper-faithful runs: a freshly constructed LMS scheduler with the SD1.5 betas — not the model
/// folder's scheduler config, whose timestep spacing and offset differ — 51 steps, CFG 7.5, seed 445.
/// </summary>
public static class ReferenceSettings
{
    public static SchedulerConfig Scheduler { get; } = new()
    {
        ClassName = "LMSDiscreteScheduler",
        BetaStart = 0.00085,
        BetaEnd = 0.012,
        BetaSchedule = BetaSchedule.ScaledLinear,
        NumTrainTimesteps = 1000,
    };

    public const int Steps = 51;
    public const double GuidanceScale = 7.5;
    public const long Seed = 445;
}
