namespace LayoutGuidance.Bench;

/// <summary>
/// What one child process measures. Each runs in its own process so its models' memory goes back to
/// the system when it ends and one phase's peak memory is not hidden by another's.
/// </summary>
sealed record SuitePlan
{
    /// <summary>"checkpoints", "timing", "memory" or "pipelines".</summary>
    public required string Kind { get; init; }
    /// <summary>libtorch intra-op threads; 0 keeps libtorch's default (one per core).</summary>
    public int Threads { get; init; }
    public string[] Models { get; init; } = [];
    public int[] Latents { get; init; } = [];
    public string[] DTypes { get; init; } = [];
    public int Rounds { get; init; } = 3;
    /// <summary>Latent sizes at which the float32 guided and naive iterations are timed too (bfloat16 ones always are).</summary>
    public int[] Float32IterationLatents { get; init; } = [];
    /// <summary>Also time the guided iteration with the UNet's parameters frozen, at the first latent size.</summary>
    public bool FrozenVariant { get; init; }
    /// <summary>Split one CFG step's time by module type at the largest latent size.</summary>
    public bool Profile { get; init; }
    /// <summary>For memory: "cfg-step", "guided", "guided-frozen" or "naive".</summary>
    public string Phase { get; init; } = "";
    /// <summary>For pipelines: steps of the long generation whose memory is followed.</summary>
    public int Steps { get; init; } = 50;
    /// <summary>For checkpoints and pipelines: how often each file is read back or each folder loaded.</summary>
    public int Repeats { get; init; } = 3;

    public override string ToString() => Kind switch
    {
        "memory" => $"memory {Models[0]} {Latents[0]}² {DTypes[0]} {Phase}",
        _ => $"{Kind} {string.Join(",", Models)} {string.Join(",", Latents.Select(l => $"{l}²"))} {string.Join(",", DTypes)}".Trim(),
    };
}
