using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Serialization;
using LayoutGuidance.Models.UNet;
using LayoutGuidance.Native;

namespace LayoutGuidance.Bench;

/// <summary>
/// The performance benchmark: <c>dotnet fsi build.fsx -- bench [--quick]</c>. Runs every suite in a
/// child process of its own, then writes results/bench/*.csv and results/bench/summary.md.
/// </summary>
static class Program
{
    const string Usage = "usage: LayoutGuidance.Bench [--quick] [--only TEXT] [--threads N] [--out DIR] [--keep-checkpoints]\n" +
                         "  --threads N  libtorch intra-op threads in every measuring process (default: one per core)\n" +
                         "  --only TEXT  run only the suites whose description contains TEXT (e.g. \"timing sd15\"), plus the checkpoints they need";

    /// <summary>NaN marks a value that was not measured; JSON has no literal for it otherwise.</summary>
    static readonly JsonSerializerOptions Json = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    static int Main(string[] args)
    {
        try
        {
            if (args is ["--child", var planFile, var resultFile]) return Child(planFile, resultFile);
            return Orchestrate(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"error: {e.Message}\n{Usage}");
            return 2;
        }
    }

    static int Child(string planFile, string resultFile)
    {
        TorchRuntime.Initialize();
        var plan = JsonSerializer.Deserialize<SuitePlan>(File.ReadAllText(planFile), Json)!;
        if (plan.Threads > 0) TorchSharp.torch.set_num_threads(plan.Threads);
        var result = Suites.Run(plan, RepositoryRoot());
        File.WriteAllText(resultFile, JsonSerializer.Serialize(result, Json));
        return 0;
    }

    static int Orchestrate(string[] args)
    {
        var quick = args.Contains("--quick");
        var keep = args.Contains("--keep-checkpoints");
        string? Value(string option)
        {
            var i = Array.IndexOf(args, option);
            if (i < 0) return null;
            return i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{option} needs a value");
        }
        var valued = new[] { "--out", "--only", "--threads" }.SelectMany(o => Array.IndexOf(args, o) is var i and >= 0 ? new[] { i, i + 1 } : []).ToHashSet();
        var unknown = args.Where((a, i) => a is not ("--quick" or "--keep-checkpoints") && !valued.Contains(i)).ToList();
        if (unknown.Count > 0) throw new ArgumentException($"unknown argument(s): {string.Join(" ", unknown)}");
        var root = RepositoryRoot();
        var outDir = Value("--out") is { } o ? Path.GetFullPath(o) : Path.Combine(root, "results", "bench");
        var only = Value("--only");
        var threads = Value("--threads") is { } t ? int.TryParse(t, out var n) && n > 0 ? n : throw new ArgumentException($"--threads {t}: give a positive number") : 0;
        Directory.CreateDirectory(outDir);

        TorchRuntime.Initialize();
        if (threads > 0) TorchSharp.torch.set_num_threads(threads);
        var machine = MachineInfo.Describe();
        var loadBefore = MachineInfo.LoadAverages();
        Console.WriteLine($"machine: {machine}");
        Console.WriteLine($"load average before: {string.Join(" ", loadBefore)}");

        var notes = new List<string>();
        var plans = Plans(quick, root, notes).Select(p => p with { Threads = threads }).ToList();
        if (only is not null)
        {
            var chosen = plans.Where(p => p.Kind != "checkpoints" && p.ToString().Contains(only, StringComparison.OrdinalIgnoreCase)).ToList();
            if (chosen.Count == 0) throw new ArgumentException($"no suite matches --only \"{only}\"; suites: {string.Join("; ", plans)}");
            var needed = chosen.SelectMany(p => p.Models).Intersect(BenchModel.RealArchitectures).ToArray();
            plans = [.. needed.Length > 0 ? [plans[0] with { Models = needed }] : Array.Empty<SuitePlan>(), .. chosen];
            notes.Add($"Only the suites matching \"{only}\" were run.");
        }
        var result = new SuiteResult();
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        try
        {
            foreach (var plan in plans)
            {
                Console.WriteLine($"== {plan}");
                var suiteClock = Stopwatch.StartNew();
                var load = MachineInfo.LoadAverages()[0];
                var (ok, child) = RunChild(plan);
                if (ok) result.Add(child!);
                else failures.Add(plan.ToString());
                result.Suites.Add(new SuiteRow(plan.ToString(), load, suiteClock.Elapsed.TotalSeconds, ok));
                Console.WriteLine($"   ({suiteClock.Elapsed.TotalSeconds:F0} s{(ok ? "" : ", FAILED")})");
            }
        }
        finally
        {
            if (!keep && Directory.Exists(SyntheticCheckpoint.Folder)) Directory.Delete(SyntheticCheckpoint.Folder, recursive: true);
        }
        result.Notes.InsertRange(0, notes);
        result.Notes.AddRange(failures.Select(f => $"FAILED: {f} (see the console output above)"));

        var run = new RunInfo(Command(args), quick, machine, loadBefore,
                              MachineInfo.LoadAverages(), DateTime.UtcNow, clock.Elapsed);
        Write(outDir, result, run);
        Console.WriteLine($"wrote {outDir} in {clock.Elapsed.TotalMinutes:F1} min");
        return failures.Count == 0 ? 0 : 1;
    }

    /// <summary>The command that reproduces this run, less where it wrote.</summary>
    static string Command(string[] args)
    {
        var outAt = Array.IndexOf(args, "--out");
        return string.Join(" ", ["dotnet fsi build.fsx -- bench", .. args.Where((_, i) => outAt < 0 || (i != outAt && i != outAt + 1))]);
    }

    static List<SuitePlan> Plans(bool quick, string root, List<string> notes)
    {
        var plans = new List<SuitePlan>
        {
            new() { Kind = "checkpoints", Models = quick ? ["sd15"] : ["sd15", "sdxl"], Repeats = quick ? 1 : 3 },
        };
        var tinies = new List<string> { "tiny-sdxl", "tiny-sd15" };
        if (BenchModel.IsPresent("toy", root)) tinies.Insert(0, "toy");
        else notes.Add("models/toy is not there: the toy model was not measured.");
        plans.Add(new SuitePlan { Kind = "pipelines", Models = tinies.ToArray(), Steps = 50 });
        foreach (var tiny in tinies)
        {
            var size = UNet2DConditionConfig.Read(Path.Combine(BenchModel.PipelineFolder(tiny, root), "unet", "config.json")).SampleSize;
            int[] latents = size == 32 ? [32] : [size, 32];
            plans.Add(new SuitePlan { Kind = "timing", Models = [tiny], Latents = latents, DTypes = ["fp32", "bf16"], Float32IterationLatents = latents, Rounds = 5 });
        }
        if (quick)
        {
            plans.Add(new SuitePlan { Kind = "timing", Models = ["sd15"], Latents = [16], DTypes = ["fp32", "bf16"], Float32IterationLatents = [16],
                                      Profile = true, Rounds = 3 });
            plans.AddRange(MemoryPlans("sd15", 16, "bf16", ["cfg-step", "guided", "naive"]));
            return plans;
        }
        plans.Add(new SuitePlan { Kind = "timing", Models = ["sd15"], Latents = [32, 64], DTypes = ["fp32", "bf16"], Float32IterationLatents = [32, 64],
                                  FrozenVariant = true, Profile = true, Rounds = 3 });
        plans.Add(new SuitePlan { Kind = "timing", Models = ["sdxl"], Latents = [32], DTypes = ["fp32", "bf16"], Float32IterationLatents = [32],
                                  FrozenVariant = true, Profile = true, Rounds = 3 });
        string[] phases = ["cfg-step", "guided", "guided-frozen", "naive"];
        plans.AddRange(MemoryPlans("sd15", 32, "fp32", phases));
        plans.AddRange(MemoryPlans("sd15", 32, "bf16", phases));
        plans.AddRange(MemoryPlans("sdxl", 32, "bf16", phases));
        plans.AddRange(MemoryPlans("sdxl", 64, "bf16", ["guided", "guided-frozen"]));
        return plans;
    }

    static IEnumerable<SuitePlan> MemoryPlans(string model, int latent, string dtype, string[] phases) =>
        phases.Select(p => new SuitePlan { Kind = "memory", Models = [model], Latents = [latent], DTypes = [dtype], Phase = p });

    static (bool Ok, SuiteResult? Result) RunChild(SuitePlan plan)
    {
        var planFile = Path.GetTempFileName();
        var resultFile = Path.GetTempFileName();
        try
        {
            File.WriteAllText(planFile, JsonSerializer.Serialize(plan, Json));
            var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell which executable is running");
            var psi = new ProcessStartInfo(self);
            if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(Program).Assembly.Location);
            foreach (var a in new[] { "--child", planFile, resultFile }) psi.ArgumentList.Add(a);
            using var child = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {self}");
            child.WaitForExit();
            if (child.ExitCode != 0) return (false, null);
            return (true, JsonSerializer.Deserialize<SuiteResult>(File.ReadAllText(resultFile), Json));
        }
        finally
        {
            File.Delete(planFile);
            File.Delete(resultFile);
        }
    }

    static void Write(string outDir, SuiteResult r, RunInfo run)
    {
        Csv.Write(Path.Combine(outDir, "timings.csv"), r.Timings);
        Csv.Write(Path.Combine(outDir, "ratios.csv"), r.Ratios);
        Csv.Write(Path.Combine(outDir, "throughput.csv"), r.Throughputs);
        Csv.Write(Path.Combine(outDir, "parity.csv"), r.Parities);
        Csv.Write(Path.Combine(outDir, "memory.csv"), r.Memory);
        Csv.Write(Path.Combine(outDir, "profile.csv"), r.Profiles);
        Csv.Write(Path.Combine(outDir, "flops.csv"), r.Flops);
        Csv.Write(Path.Combine(outDir, "io.csv"), r.Io);
        Csv.Write(Path.Combine(outDir, "step_memory.csv"), r.StepMemory);
        Csv.Write(Path.Combine(outDir, "suites.csv"), r.Suites);
        File.WriteAllText(Path.Combine(outDir, "summary.md"), Summary.Render(r, run));
    }

    /// <summary>The folder holding LayoutGuidance.sln, above the working directory or this program.</summary>
    static string RepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "LayoutGuidance.sln"))) return dir.FullName;
        throw new ArgumentException("run the benchmark inside the repository (no LayoutGuidance.sln above the working directory)");
    }
}

/// <summary>How and where a benchmark run happened.</summary>
sealed record RunInfo(string Command, bool Quick, MachineInfo Machine, double[] LoadBefore, double[] LoadAfter, DateTime FinishedUtc, TimeSpan Duration);
