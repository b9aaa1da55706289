using System.Globalization;
using System.Text;

namespace LayoutGuidance.Bench;

/// <summary>results/bench/summary.md: the targets first, then every table the CSV files hold, in words a reader can check.</summary>
static class Summary
{
    const double FlatGrowthMiB = 8;
    const int Sdxl1024Latent = 128;

    public static string Render(SuiteResult r, RunInfo run)
    {
        var md = new StringBuilder();
        md.AppendLine("# Benchmark results").AppendLine();
        md.AppendLine($"- command: `{run.Command}` ({(run.Quick ? "quick mode" : "full run")}), finished {run.FinishedUtc:yyyy-MM-dd HH:mm} UTC, took {run.Duration.TotalMinutes:F1} min");
        md.AppendLine($"- machine: {run.Machine}");
        md.AppendLine($"- load average (1, 5, 15 min) before: {Join(run.LoadBefore)}, after: {Join(run.LoadAfter)} — the cores are shared, so only ratios measured within one round are compared");
        md.AppendLine("- timings: every workload of a suite runs once per round in turn (A, B, C, A, B, C, …) after a warm-up round; " +
                      "values are medians over the rounds with (min–max); ratios are taken round by round").AppendLine();

        Targets(md, r);
        Timings(md, r);
        if (r.Ratios.Count > 0)
            Table(md, "Ratios (same rounds)", ["suite", "ratio", "median", "min–max", "rounds"],
                  r.Ratios.Select(x => new[] { x.Suite, x.Name, F(x.Median, 2) + "×", $"{F(x.Min, 2)}–{F(x.Max, 2)}", x.Rounds.ToString(CultureInfo.InvariantCulture) }));
        if (r.Throughputs.Count > 0)
            Table(md, "CFG step throughput against a 2048² GEMM in the same rounds and dtype", ["suite", "workload", "GFLOP", "median s", "GFLOP/s", "GEMM GFLOP/s", "fraction (min–max)"],
                  r.Throughputs.Select(x => new[] { x.Suite, x.Workload, F(x.Gflop, 1), F(x.MedianSeconds, 3), F(x.AchievedGflops, 1), F(x.GemmGflops, 1),
                                                    $"{Pct(x.FractionMedian)} ({Pct(x.FractionMin)}–{Pct(x.FractionMax)})" }));
        if (r.Flops.Count > 0)
            Table(md, "Counted FLOPs (batch 2 for the CFG step; the guided prefix is batch 1, up to the last guided layer)",
                  ["suite", "CFG total GFLOP", "conv", "linear", "attention", "guided prefix GFLOP", "of it attention", "hooked conv+linear GFLOP", "predicted naive/guided"],
                  r.Flops.Select(x => new[] { x.Suite, F(x.TotalGflop, 1), F(x.ConvGflop, 1), F(x.LinearGflop, 1), F(x.AttentionGflop, 1), F(x.PrefixGflop, 1),
                                              F(x.PrefixAttentionGflop, 1), double.IsNaN(x.HookedConvLinearGflop) ? "" : F(x.HookedConvLinearGflop, 1), F(x.PredictedNaiveOverGuided, 2) + "×" }));
        if (r.Profiles.Count > 0)
            Table(md, "Where one CFG step's time goes (forward hooks, one run)", ["suite", "dtype", "module type", "calls", "seconds", "share", "GFLOP", "GFLOP/s"],
                  r.Profiles.Select(x => new[] { x.Suite, x.Dtype, x.Category, x.Calls.ToString(CultureInfo.InvariantCulture), F(x.Seconds, 3), Pct(x.Share),
                                                 x.Gflop == 0 ? "" : F(x.Gflop, 1), x.Gflops == 0 ? "" : F(x.Gflops, 1) }));
        if (r.Parities.Count > 0)
            Table(md, "Guided against naive iteration: same energy and gradient", ["suite", "dtype", "E guided", "E naive", "|ΔE|/E", "max |∇|", "max |Δ∇|", "cosine", "within tolerance"],
                  r.Parities.Select(x => new[] { x.Suite, x.Dtype, F(x.EnergyGuided, 7), F(x.EnergyNaive, 7), E(x.EnergyRelativeDifference), E(x.GradientMaxAbs),
                                                 E(x.GradientMaxAbsDifference), F(x.GradientCosine, 6),
                                                 double.IsNaN(x.Tolerance) ? "(not checked in bf16)" : x.Within ? $"yes (≤ {E(x.Tolerance)} relative)" : $"NO (tolerance {E(x.Tolerance)})" }));
        if (r.Memory.Count > 0)
            Table(md, "Peak resident memory per phase (one run in a fresh process holding the model and inputs)",
                  ["model", "latent", "dtype", "phase", "weights MiB", "RSS before MiB", "peak MiB", "peak − before MiB", "kept after MiB", "seconds (cold)"],
                  r.Memory.Select(x => new[] { x.Model, $"{x.Latent}²", x.Dtype, x.Phase, F(x.WeightsMiB, 0), F(x.RssBeforeMiB, 0), F(x.PeakMiB, 0), F(x.PeakDeltaMiB, 0),
                                               F(x.RetainedDeltaMiB, 0), F(x.Seconds, 1) }));
        SdxlEstimate(md, r);
        if (r.Io.Count > 0)
            Table(md, "Loading and reading", ["what", "MB", "median s (min–max)", "GiB/s"],
                  r.Io.Select(x => new[] { x.What, F(x.Bytes / 1e6, 1), $"{F(x.Seconds.Median, 3)} ({F(x.Seconds.Min, 3)}–{F(x.Seconds.Max, 3)})", F(x.GibPerSecond, 2) }));
        StepMemory(md, r);
        if (r.Suites.Count > 0)
            Table(md, "Suites (each in its own process)", ["suite", "1-min load average at start (counts the previous suite's own threads)", "seconds", "ok"],
                  r.Suites.Select(x => new[] { x.Suite, F(x.LoadAverage, 2), F(x.Seconds, 0), x.Succeeded ? "yes" : "**FAILED**" }));
        if (r.Notes.Count > 0)
        {
            md.AppendLine("## Notes").AppendLine();
            foreach (var n in r.Notes) md.AppendLine($"- {n}");
            md.AppendLine();
        }
        return md.ToString();
    }

    static void Targets(StringBuilder md, SuiteResult r)
    {
        var rows = new List<string[]>();
        foreach (var ratio in r.Ratios.Where(x => IsReal(x.Suite) && x.Name.StartsWith("naive / guided", StringComparison.Ordinal)))
        {
            var dtype = ratio.Name.Contains("fp32") ? "fp32" : "bf16";
            var parity = r.Parities.FirstOrDefault(p => p.Suite == ratio.Suite && p.Dtype == "fp32");
            var predicted = r.Flops.FirstOrDefault(f => f.Suite == ratio.Suite)?.PredictedNaiveOverGuided;
            var equal = parity is null ? "" : parity.Within ? ", fp32 energy and gradient equal" : ", fp32 energy/gradient DIFFER";
            rows.Add([$"guided iteration ≥ 2× faster than naive, equal loss and gradient ({ratio.Suite}, {dtype})",
                      $"{Ratio(ratio)}{equal}; FLOPs predict {F(predicted ?? double.NaN, 2)}×", Holds(ratio.Median >= 2 && (parity?.Within ?? true))]);
        }
        foreach (var t in LargestLatent(r.Throughputs.Where(x => IsReal(x.Suite)).ToList()))
            rows.Add([$"CFG step ≥ 50% of GEMM throughput at the larger latent ({t.Suite}, {t.Workload})",
                      $"{Pct(t.FractionMedian)} ({Pct(t.FractionMin)}–{Pct(t.FractionMax)}): {F(t.AchievedGflops, 0)} of {F(t.GemmGflops, 0)} GFLOP/s", Holds(t.FractionMedian >= 0.5)]);
        foreach (var ratio in r.Ratios.Where(x => IsReal(x.Suite) && x.Name.Contains("fp32 / bf16") && !x.Name.StartsWith("GEMM", StringComparison.Ordinal)))
            rows.Add([$"bf16 ≥ 2× fp32 ({ratio.Suite}, {ratio.Name.Replace(" fp32 / bf16", "")})", Ratio(ratio), Holds(ratio.Median >= 2)]);
        foreach (var model in r.StepMemory.Select(s => s.Model).Distinct())
        {
            var (growth, from, to) = Growth(r, model);
            rows.Add([$"resident memory flat over a 50-step run ({model})", $"{F(growth, 1)} MiB from step {from} to step {to} (after a .NET collection each step)", Holds(growth < FlatGrowthMiB)]);
        }
        if (EstimateSdxl(r) is { } estimate)
            rows.Add(["SDXL 1024² bf16 guided iteration under 24 GB", $"≈ {F(estimate.PeakBytes / 1e9, 1)} GB ({F(estimate.PeakBytes / (double)(1L << 30), 1)} GiB) estimated", Holds(estimate.PeakBytes < 24e9)]);
        Table(md, "Targets (real SD1.5 / SDXL architectures; the tiny and toy models are in the tables below)", ["target", "measured", "holds"], rows);
    }

    /// <summary>Suites of the real architectures, the ones the targets are about.</summary>
    static bool IsReal(string suite) => BenchModel.RealArchitectures.Contains(suite.Split('@')[0]);

    static IEnumerable<ThroughputRow> LargestLatent(List<ThroughputRow> rows) =>
        rows.GroupBy(x => x.Suite.Split('@')[0])
            .SelectMany(g => g.Where(x => Latent(x.Suite) == g.Max(y => Latent(y.Suite))));

    static int Latent(string suite) => int.Parse(suite.Split('@')[1], CultureInfo.InvariantCulture);

    static void Timings(StringBuilder md, SuiteResult r)
    {
        if (r.Timings.Count == 0) return;
        var rows = r.Timings.GroupBy(t => (t.Suite, t.Workload)).Select(g =>
        {
            var s = Spread.Of(g.Select(t => t.Seconds));
            var gflop = g.First().Gflop;
            return new[] { g.Key.Suite, g.Key.Workload, F(s.Median, 3), $"{F(s.Min, 3)}–{F(s.Max, 3)}", $"±{F(s.RelativeHalfRange, 0)}%",
                           gflop == 0 ? "" : F(gflop, 1), gflop == 0 ? "" : F(gflop / s.Median, 1) };
        });
        Table(md, "Timings (seconds per call)", ["suite", "workload", "median s", "min–max", "spread", "GFLOP", "GFLOP/s"], rows);
    }

    sealed record SdxlMemoryEstimate(double PeakBytes, string Method);

    /// <summary>
    /// Peak memory of an SDXL bf16 guided iteration at 128×128 latents (1024² images): the process's
    /// resident memory before the phase (weights and runtime) plus the phase's growth, fitted as
    /// a + b·N in the token count N = latent² through the measured sizes and evaluated at 128².
    /// </summary>
    static SdxlMemoryEstimate? EstimateSdxl(SuiteResult r)
    {
        var points = r.Memory.Where(m => m.Model == "sdxl" && m.Dtype == "bf16" && m.Phase == "guided").OrderBy(m => m.Latent).ToList();
        if (points.Count == 0) return null;
        double n = Sdxl1024Latent * Sdxl1024Latent;
        double delta;
        string method;
        if (points.Count == 1)
        {
            delta = points[0].PeakDeltaMiB * n / (points[0].Latent * (double)points[0].Latent);
            method = $"the phase's growth at {points[0].Latent}² scaled by the token count";
        }
        else
        {
            var (p, q) = (points[0], points[^1]);
            var (n1, n2) = (p.Latent * (double)p.Latent, q.Latent * (double)q.Latent);
            var slope = (q.PeakDeltaMiB - p.PeakDeltaMiB) / (n2 - n1);
            delta = p.PeakDeltaMiB + slope * (n - n1);
            method = $"the phase's growth fitted as a + b·(latent²) through {p.Latent}² ({F(p.PeakDeltaMiB, 0)} MiB) and {q.Latent}² ({F(q.PeakDeltaMiB, 0)} MiB) " +
                     $"— growth ratio {F(q.PeakDeltaMiB / p.PeakDeltaMiB, 2)} for {F(n2 / n1, 0)}× the tokens";
        }
        var before = points.Max(m => m.RssBeforeMiB);
        return new SdxlMemoryEstimate((before + delta) * 1024 * 1024, $"{method}, evaluated at {Sdxl1024Latent}², plus the resident memory before the phase ({F(before, 0)} MiB: weights and runtime)");
    }

    static void SdxlEstimate(StringBuilder md, SuiteResult r)
    {
        if (EstimateSdxl(r) is not { } e) return;
        md.AppendLine("## SDXL at 1024² (128×128 latents), bf16 guided iteration: estimate").AppendLine();
        md.AppendLine($"≈ {F(e.PeakBytes / 1e9, 1)} GB peak resident memory: {e.Method}. " +
                      "Self-attention runs fused (no N×N map is kept for backward) and only the guided layers' maps [heads, N, 77] are kept, " +
                      "so activation memory grows linearly in N; the two measured sizes check that.").AppendLine();
    }

    static (double GrowthMiB, int From, int To) Growth(SuiteResult r, string model)
    {
        var steps = r.StepMemory.Where(s => s.Model == model).OrderBy(s => s.Step).ToList();
        var from = steps.FirstOrDefault(s => s.Step == 10) ?? steps[0];
        return (steps[^1].RssAfterCollectMiB - from.RssAfterCollectMiB, from.Step, steps[^1].Step);
    }

    static void StepMemory(StringBuilder md, SuiteResult r)
    {
        foreach (var model in r.StepMemory.Select(s => s.Model).Distinct())
        {
            var steps = r.StepMemory.Where(s => s.Model == model).OrderBy(s => s.Step).ToList();
            var picks = steps.Where(s => s.Step is 0 or 1 or 5 or 9 or 10 or 20 or 30 or 40 || s == steps[^1]).Distinct();
            Table(md, $"Resident memory over a {steps.Count}-step backward-guided run ({model}, 64×64, guidance in steps 0–9; a full .NET collection after every step)",
                  ["step", "elapsed s", "RSS as the step left it MiB", "RSS after the collection MiB"],
                  picks.Select(s => new[] { s.Step.ToString(CultureInfo.InvariantCulture), F(s.Seconds, 2), F(s.RssMiB, 1), F(s.RssAfterCollectMiB, 1) }));
        }
    }

    static void Table(StringBuilder md, string title, string[] headers, IEnumerable<string[]> rows)
    {
        md.AppendLine($"## {title}").AppendLine();
        md.AppendLine("| " + string.Join(" | ", headers) + " |");
        md.AppendLine("|" + string.Concat(headers.Select(_ => "---|")));
        foreach (var row in rows) md.AppendLine("| " + string.Join(" | ", row) + " |");
        md.AppendLine();
    }

    static string Ratio(RatioRow x) => $"{F(x.Median, 2)}× ({F(x.Min, 2)}–{F(x.Max, 2)})";
    static string Holds(bool ok) => ok ? "yes" : "**no**";
    static string Join(double[] values) => string.Join(", ", values.Select(v => F(v, 2)));
    static string F(double v, int digits) => double.IsNaN(v) ? "–" : v.ToString("F" + digits, CultureInfo.InvariantCulture);
    static string E(double v) => double.IsNaN(v) ? "–" : v.ToString("0.0e+0", CultureInfo.InvariantCulture);
    static string Pct(double v) => double.IsNaN(v) ? "–" : (100 * v).ToString("F0", CultureInfo.InvariantCulture) + "%";
}
