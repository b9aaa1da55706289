using System.Diagnostics;

namespace LayoutGuidance.Bench;

/// <summary>A timed piece of work and the FLOPs it performs (0 when not counted).</summary>
sealed record Workload(string Name, double Gflop, Action Run);

/// <summary>
/// Runs workloads in turn, round after round (A, B, C, A, B, C, …), so that every pair meets the same
/// machine load — other processes share these cores — and ratios are taken within a round. Round 0
/// warms up (one-time allocations, kernel selection) and is not recorded.
/// </summary>
static class RoundRobin
{
    public static List<TimingRow> Run(string suite, IReadOnlyList<Workload> workloads, int rounds)
    {
        var rows = new List<TimingRow>();
        for (var round = 0; round <= rounds; round++)
        {
            foreach (var w in workloads)
            {
                var clock = Stopwatch.StartNew();
                w.Run();
                var seconds = clock.Elapsed.TotalSeconds;
                if (round > 0) rows.Add(new TimingRow(suite, w.Name, round, seconds, w.Gflop));
                Console.WriteLine($"  [{suite}] round {round}{(round == 0 ? " (warm-up)" : "")} {w.Name,-22} {seconds,8:F3} s");
            }
        }
        return rows;
    }

    /// <summary>measure(numerator) / measure(denominator), round by round; the measure is the time unless given.</summary>
    public static RatioRow Ratio(IReadOnlyList<TimingRow> rows, string suite, string name, string numerator, string denominator,
                                 Func<TimingRow, double>? measure = null)
    {
        measure ??= r => r.Seconds;
        var spread = Spread.Of(PerRound(rows, suite, numerator, denominator, (n, d) => measure(n) / measure(d)));
        return new RatioRow(suite, name, numerator, denominator, spread.Median, spread.Min, spread.Max, spread.Count);
    }

    /// <summary>A workload's FLOP/s as a fraction of a GEMM's FLOP/s measured in the same rounds.</summary>
    public static ThroughputRow Throughput(IReadOnlyList<TimingRow> rows, string suite, string workload, string gemm)
    {
        var mine = rows.Where(r => r.Suite == suite && r.Workload == workload).ToList();
        var gemmRows = rows.Where(r => r.Suite == suite && r.Workload == gemm).ToList();
        var seconds = Spread.Of(mine.Select(r => r.Seconds));
        var gemmRate = Spread.Of(gemmRows.Select(r => r.Gflop / r.Seconds));
        var fraction = Spread.Of(PerRound(rows, suite, workload, gemm, (w, g) => (w.Gflop / w.Seconds) / (g.Gflop / g.Seconds)));
        return new ThroughputRow(suite, workload, mine[0].Gflop, seconds.Median, mine[0].Gflop / seconds.Median, gemm, gemmRate.Median,
                                 fraction.Median, fraction.Min, fraction.Max);
    }

    static IEnumerable<double> PerRound(IReadOnlyList<TimingRow> rows, string suite, string a, string b, Func<TimingRow, TimingRow, double> f) =>
        from x in rows
        where x.Suite == suite && x.Workload == a
        join y in rows.Where(r => r.Suite == suite && r.Workload == b) on x.Round equals y.Round
        select f(x, y);
}
