namespace LayoutGuidance.Bench;

/// <summary>One timed run of one workload in one round of a round-robin.</summary>
sealed record TimingRow(string Suite, string Workload, int Round, double Seconds, double Gflop);

/// <summary>A ratio of two workloads' times, taken round by round (both ran in every round, interleaved).</summary>
sealed record RatioRow(string Suite, string Name, string Numerator, string Denominator, double Median, double Min, double Max, int Rounds);

/// <summary>A workload's achieved FLOP/s against the same round's GEMM throughput in the same dtype.</summary>
sealed record ThroughputRow(string Suite, string Workload, double Gflop, double MedianSeconds, double AchievedGflops,
                            string Gemm, double GemmGflops, double FractionMedian, double FractionMin, double FractionMax);

/// <summary>Energy and gradient of the guided iteration against the naive one on the same inputs.</summary>
sealed record ParityRow(string Suite, string Dtype, double EnergyGuided, double EnergyNaive, double EnergyRelativeDifference,
                        double GradientMaxAbs, double GradientMaxAbsDifference, double GradientCosine, double Tolerance, bool Within);

/// <summary>Peak resident memory of one phase, run once in a fresh process that holds only the model and its inputs.</summary>
sealed record MemoryRow(string Model, int Latent, string Dtype, string Phase, double WeightsMiB, double RssBeforeMiB,
                        double PeakMiB, double PeakDeltaMiB, double RetainedDeltaMiB, double Seconds);

/// <summary>Where one CFG UNet step's time goes, by module type, from forward hooks on every leaf module of that type.</summary>
sealed record ProfileRow(string Suite, string Dtype, string Category, int Calls, double Seconds, double Share, double Gflop, double Gflops);

/// <summary>Analytic FLOPs of a UNet call and of the part before the guided pass's early exit.</summary>
sealed record FlopRow(string Suite, int Latent, int Batch, double TotalGflop, double ConvGflop, double LinearGflop, double AttentionGflop,
                      double PrefixGflop, double PrefixAttentionGflop, double HookedConvLinearGflop, double PredictedNaiveOverGuided);

/// <summary>Loading and reading: pipeline folders, module weights, safetensors files.</summary>
sealed record IoRow(string What, double Bytes, Spread Seconds)
{
    public double GibPerSecond => Bytes / Seconds.Median / (1 << 30);
}

/// <summary>
/// Resident memory at each step of a long generation: as the step left it, and after a full .NET
/// collection has run the finalizers of tensor objects that were dropped rather than disposed.
/// </summary>
sealed record StepMemoryRow(string Model, int Step, double Seconds, double RssMiB, double RssAfterCollectMiB);

/// <summary>One child process: what it measured, the 1-minute load average when it started, how long it took.</summary>
sealed record SuiteRow(string Suite, double LoadAverage, double Seconds, bool Succeeded);

/// <summary>Everything one child process measured.</summary>
sealed class SuiteResult
{
    public List<TimingRow> Timings { get; set; } = [];
    public List<RatioRow> Ratios { get; set; } = [];
    public List<ThroughputRow> Throughputs { get; set; } = [];
    public List<ParityRow> Parities { get; set; } = [];
    public List<MemoryRow> Memory { get; set; } = [];
    public List<ProfileRow> Profiles { get; set; } = [];
    public List<FlopRow> Flops { get; set; } = [];
    public List<IoRow> Io { get; set; } = [];
    public List<StepMemoryRow> StepMemory { get; set; } = [];
    public List<string> Notes { get; set; } = [];
    public List<SuiteRow> Suites { get; set; } = [];

    public void Add(SuiteResult other)
    {
        Timings.AddRange(other.Timings);
        Ratios.AddRange(other.Ratios);
        Throughputs.AddRange(other.Throughputs);
        Parities.AddRange(other.Parities);
        Memory.AddRange(other.Memory);
        Profiles.AddRange(other.Profiles);
        Flops.AddRange(other.Flops);
        Io.AddRange(other.Io);
        StepMemory.AddRange(other.StepMemory);
        Notes.AddRange(other.Notes);
        Suites.AddRange(other.Suites);
    }
}
