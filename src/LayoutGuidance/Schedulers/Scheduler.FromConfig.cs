using LayoutGuidance.Weights;
using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

public abstract partial class Scheduler
{
    static readonly (string Name, Func<SchedulerConfig, Generator?, Scheduler> Create)[] Classes =
    [
        ("DDIMScheduler", (c, _) => new DdimScheduler(c)),
        ("PNDMScheduler", (c, _) => new PndmScheduler(c)),
        ("LMSDiscreteScheduler", (c, _) => new LmsDiscreteScheduler(c)),
        ("EulerDiscreteScheduler", (c, _) => new EulerDiscreteScheduler(c)),
        ("EulerAncestralDiscreteScheduler", (c, g) => new EulerAncestralDiscreteScheduler(c, EulerAncestralDiscreteScheduler.GeneratorNoise(g))),
        ("DPMSolverMultistepScheduler", (c, _) => new DpmSolverMultistepScheduler(c)),
    ];

    /// <summary>The diffusers class names <see cref="FromConfig"/> accepts.</summary>
    public static IReadOnlyList<string> SupportedClasses { get; } = Classes.Select(c => c.Name).ToArray();

    /// <summary>
    /// diffusers' <c>from_config</c>: the class named by <paramref name="className"/> (default: the config's
    /// <c>_class_name</c>) built from <paramref name="config"/>; keys it does not take are ignored and keys the
    /// config lacks get the class's defaults. Names match case-insensitively, with or without the
    /// "Scheduler" suffix ("LMSDiscrete" = "LMSDiscreteScheduler"). <paramref name="generator"/> feeds the noise
    /// of stochastic schedulers (null: the global generator).
    /// </summary>
    public static Scheduler FromConfig(SchedulerConfig config, string? className = null, Generator? generator = null)
    {
        var requested = className ?? config.ClassName
            ?? throw new SchedulerConfigException($"the scheduler config has no _class_name; name a class: {string.Join(", ", SupportedClasses)}");
        var wanted = requested.EndsWith("Scheduler", StringComparison.OrdinalIgnoreCase) ? requested : requested + "Scheduler";
        foreach (var (name, create) in Classes)
            if (string.Equals(name, wanted, StringComparison.OrdinalIgnoreCase))
                return create(config with { ClassName = name }, generator);
        throw new SchedulerConfigException(
            $"unknown scheduler class '{requested}'; supported: {string.Join(", ", SupportedClasses)}");
    }

    /// <summary>
    /// Reads <c>scheduler/scheduler_config.json</c> of a diffusers pipeline folder (or the file itself, or the
    /// folder holding it) and builds it with <see cref="FromConfig"/>, optionally as another class.
    /// </summary>
    public static Scheduler FromPretrained(string path, string? className = null, Generator? generator = null)
    {
        var file = File.Exists(path) ? path
            : File.Exists(Path.Combine(path, "scheduler_config.json")) ? Path.Combine(path, "scheduler_config.json")
            : Path.Combine(path, "scheduler", "scheduler_config.json");
        var config = DiffusersConfig.Read<SchedulerConfig>(file);
        try
        {
            return FromConfig(config, className, generator);
        }
        catch (SchedulerConfigException e)
        {
            throw new SchedulerConfigException($"{file}: {e.Message}");
        }
    }
}
