using System.Diagnostics;
using LayoutGuidance.Guidance;
using LayoutGuidance.Pipelines;
using LayoutGuidance.Weights;
using static TorchSharp.torch;

namespace LayoutGuidance.Bench;

/// <summary>The measurements a child process makes for its <see cref="SuitePlan"/>.</summary>
static class Suites
{
    const long GemmSize = 2048;
    const double Float32ParityTolerance = 1e-4;

    public static SuiteResult Run(SuitePlan plan, string root) => plan.Kind switch
    {
        "checkpoints" => Checkpoints(plan, root),
        "timing" => Timing(plan, root),
        "memory" => Memory(plan, root),
        "pipelines" => Pipelines(plan, root),
        _ => throw new ArgumentException($"unknown suite kind '{plan.Kind}'"),
    };

    static ScalarType DType(string name) => PipelineOptions.ParseDType(name);

    static SuiteResult Checkpoints(SuitePlan plan, string root)
    {
        var result = new SuiteResult();
        foreach (var model in plan.Models)
        {
            var (bytes, writeSeconds) = SyntheticCheckpoint.Write(model, BenchModel.RealConfig(model, root));
            result.Io.Add(new IoRow($"write {model} random bf16 checkpoint (SafeTensorsWriter.Save)", bytes, Spread.Of([writeSeconds])));
            var reads = new List<double>();
            for (var i = 0; i < plan.Repeats; i++)
            {
                var clock = Stopwatch.StartNew();
                using (var file = SafeTensorsFile.Open(SyntheticCheckpoint.PathFor(model)))
                    foreach (var info in file.Tensors) file.Load(info.Name).Dispose();
                reads.Add(clock.Elapsed.TotalSeconds);
            }
            result.Io.Add(new IoRow($"read {model} checkpoint, every tensor (SafeTensorsFile.Load, page cache warm)", bytes, Spread.Of(reads)));
            Console.WriteLine($"  {model}: {bytes / 1e9:F2} GB written in {writeSeconds:F1} s, read in {Spread.Of(reads).Median:F2} s");
        }
        return result;
    }

    static SuiteResult Timing(SuitePlan plan, string root)
    {
        var result = new SuiteResult();
        var name = plan.Models[0];
        var models = new List<BenchModel>();
        var gemms = new List<Gemm>();
        try
        {
            foreach (var d in plan.DTypes)
            {
                var clock = Stopwatch.StartNew();
                var model = BenchModel.Load(name, DType(d), root);
                models.Add(model);
                result.Io.Add(new IoRow($"load {name} UNet as {d} ({(BenchModel.RealArchitectures.Contains(name) ? "ModuleWeights.Load from the random checkpoint" : "whole pipeline folder")})",
                                        model.WeightBytes, Spread.Of([clock.Elapsed.TotalSeconds])));
                gemms.Add(new Gemm(GemmSize, DType(d)));
            }
            foreach (var latent in plan.Latents)
                result.Add(TimeAtLatent(plan, name, latent, models, gemms));
        }
        finally
        {
            foreach (var g in gemms) g.Dispose();
            foreach (var m in models) m.Dispose();
        }
        return result;
    }

    static SuiteResult TimeAtLatent(SuitePlan plan, string name, int latent, List<BenchModel> models, List<Gemm> gemms)
    {
        var result = new SuiteResult();
        var suite = $"{name}@{latent}";
        var workloads = new List<Workload>();
        var inputs = models.Select(m => new UNetWorkloads(m, latent)).ToList();
        try
        {
            for (var i = 0; i < models.Count; i++)
            {
                var (model, w, d) = (models[i], inputs[i], BenchModel.DTypeName(models[i].DType));
                workloads.Add(new Workload($"gemm{GemmSize}-{d}", gemms[i].Gflop, gemms[i].Run));
                workloads.Add(new Workload($"cfg-step-{d}", w.CfgFlops.Total / 1e9, w.CfgStep));
                if (model.DType == ScalarType.Float32 && !plan.Float32IterationLatents.Contains(latent)) continue;
                result.Parities.Add(Parity(suite, d, w, model.DType == ScalarType.Float32 ? Float32ParityTolerance : double.NaN));
                workloads.Add(new Workload($"guided-{d}", 0, () => w.GuidedIteration(naive: false).Gradient.Dispose()));
                workloads.Add(new Workload($"naive-{d}", 0, () => w.GuidedIteration(naive: true).Gradient.Dispose()));
                if (plan.FrozenVariant && latent == plan.Latents[0])
                    workloads.Add(new Workload($"guided-frozen-{d}", 0, () => model.WithFrozenWeights(() => w.GuidedIteration(naive: false).Gradient.Dispose())));
            }
            var rows = RoundRobin.Run(suite, workloads, plan.Rounds);
            result.Timings.AddRange(rows);
            bool Has(string workload) => workloads.Any(x => x.Name == workload);

            foreach (var d in models.Select(m => BenchModel.DTypeName(m.DType)))
            {
                if (Has($"guided-{d}")) result.Ratios.Add(RoundRobin.Ratio(rows, suite, $"naive / guided iteration ({d})", $"naive-{d}", $"guided-{d}"));
                if (Has($"guided-frozen-{d}"))
                    result.Ratios.Add(RoundRobin.Ratio(rows, suite, $"guided, weights trainable / frozen ({d})", $"guided-{d}", $"guided-frozen-{d}"));
                result.Throughputs.Add(RoundRobin.Throughput(rows, suite, $"cfg-step-{d}", $"gemm{GemmSize}-{d}"));
            }
            if (Has("cfg-step-fp32") && Has("cfg-step-bf16"))
            {
                result.Ratios.Add(RoundRobin.Ratio(rows, suite, "CFG step fp32 / bf16", "cfg-step-fp32", "cfg-step-bf16"));
                result.Ratios.Add(RoundRobin.Ratio(rows, suite, $"GEMM {GemmSize}² fp32 / bf16 (same FLOPs per sample)", $"gemm{GemmSize}-fp32", $"gemm{GemmSize}-bf16",
                                                   r => r.Seconds / r.Gflop));
            }
            if (Has("guided-fp32") && Has("guided-bf16"))
                result.Ratios.Add(RoundRobin.Ratio(rows, suite, "guided iteration fp32 / bf16", "guided-fp32", "guided-bf16"));

            var profile = plan.Profile && latent == plan.Latents.Max();
            result.Flops.Add(Flops(suite, latent, models[0], inputs[0]));
            if (profile)
                for (var i = 0; i < models.Count; i++)
                {
                    result.Profiles.AddRange(OpProfile.Measure(suite, BenchModel.DTypeName(models[i].DType), models[i].UNet, latent, 2, inputs[i].CfgStep));
                    if (i == 0) result.Flops[^1] = result.Flops[^1] with { HookedConvLinearGflop = result.Profiles[^1].Gflop };
                }
        }
        finally
        {
            foreach (var w in inputs) w.Dispose();
        }
        return result;
    }

    static ParityRow Parity(string suite, string dtype, UNetWorkloads w, double tolerance)
    {
        var (energyGuided, gradGuided) = w.GuidedIteration(naive: false);
        var (energyNaive, gradNaive) = w.GuidedIteration(naive: true);
        using (gradGuided)
        using (gradNaive)
        using (NewDisposeScope())
        {
            var maxAbs = gradNaive.abs().max().item<float>();
            var maxDiff = (gradGuided - gradNaive).abs().max().item<float>();
            var cosine = ((gradGuided * gradNaive).sum() / (gradGuided.norm() * gradNaive.norm())).item<float>();
            var energyDiff = Math.Abs(energyGuided - energyNaive) / Math.Max(Math.Abs(energyNaive), 1e-30);
            var within = !double.IsNaN(tolerance) && energyDiff <= tolerance && maxDiff <= tolerance * maxAbs;
            Console.WriteLine($"  [{suite}] {dtype} energy guided {energyGuided:G7} naive {energyNaive:G7}; gradient max |Δ| {maxDiff:G3} of max |g| {maxAbs:G3}, cosine {cosine:F6}");
            return new ParityRow(suite, dtype, energyGuided, energyNaive, energyDiff, maxAbs, maxDiff, cosine, tolerance, within);
        }
    }

    /// <summary>
    /// Counted FLOPs, and the naive/guided time ratio they predict: the guided iteration runs the forward
    /// prefix P up to the exit and its backward (about P for convolutions and linear layers, whose input
    /// gradient is one product like the forward, and 2× for attention, whose Q, K and V all need
    /// gradients); the naive one runs the whole forward F and the same backward.
    /// </summary>
    static FlopRow Flops(string suite, int latent, BenchModel model, UNetWorkloads w)
    {
        var cfg = w.CfgFlops;
        var iteration = w.IterationFlops;
        var exit = model.GuidedPaths[^1];
        var (prefix, prefixAttention) = iteration.Before(exit);
        var backward = prefix + prefixAttention;
        var predicted = (iteration.Total + backward) / (prefix + backward);
        return new FlopRow(suite, latent, 2, cfg.Total / 1e9, cfg.Conv / 1e9, cfg.Linear / 1e9, cfg.Attention / 1e9,
                           prefix / 1e9, prefixAttention / 1e9, double.NaN, predicted);
    }

    static SuiteResult Memory(SuitePlan plan, string root)
    {
        var result = new SuiteResult();
        var (name, latent, d) = (plan.Models[0], plan.Latents[0], plan.DTypes[0]);
        using var model = BenchModel.Load(name, DType(d), root);
        using var w = new UNetWorkloads(model, latent);
        Action phase = plan.Phase switch
        {
            "cfg-step" => w.CfgStep,
            "guided" => () => w.GuidedIteration(naive: false).Gradient.Dispose(),
            "guided-frozen" => () => model.WithFrozenWeights(() => w.GuidedIteration(naive: false).Gradient.Dispose()),
            "naive" => () => w.GuidedIteration(naive: true).Gradient.Dispose(),
            _ => throw new ArgumentException($"unknown memory phase '{plan.Phase}'; use cfg-step, guided, guided-frozen or naive"),
        };
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = ResidentMemory.CurrentBytes;
        ResidentMemory.ResetPeak();
        var clock = Stopwatch.StartNew();
        phase();
        var seconds = clock.Elapsed.TotalSeconds;
        var peak = ResidentMemory.PeakBytes;
        var after = ResidentMemory.CurrentBytes;
        var row = new MemoryRow(name, latent, d, plan.Phase, ResidentMemory.MiB(model.WeightBytes), ResidentMemory.MiB(before),
                                ResidentMemory.MiB(peak), ResidentMemory.MiB(peak - before), ResidentMemory.MiB(after - before), seconds);
        Console.WriteLine($"  {plan}: weights {row.WeightsMiB:F0} MiB, RSS before {row.RssBeforeMiB:F0} MiB, peak +{row.PeakDeltaMiB:F0} MiB, retained +{row.RetainedDeltaMiB:F0} MiB ({seconds:F1} s)");
        result.Memory.Add(row);
        return result;
    }

    static SuiteResult Pipelines(SuitePlan plan, string root)
    {
        var result = new SuiteResult();
        foreach (var name in plan.Models)
        {
            var folder = BenchModel.PipelineFolder(name, root);
            var bytes = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
            var loads = new List<double>();
            for (var i = 0; i <= plan.Repeats; i++)
            {
                var clock = Stopwatch.StartNew();
                StableDiffusionPipeline.Load(folder).Dispose();
                if (i > 0) loads.Add(clock.Elapsed.TotalSeconds);
            }
            result.Io.Add(new IoRow($"load pipeline folder {name} (StableDiffusionPipeline.Load, after one warm-up load)", bytes, Spread.Of(loads)));
        }
        var longRun = plan.Models[^1];
        using var pipe = StableDiffusionPipeline.Load(BenchModel.PipelineFolder(longRun, root));
        var layout = LayoutRequest.Parse("hello kitty; ball", [[new BoundingBox(0.1, 0.2, 0.5, 0.8)], [new BoundingBox(0.75, 0.6, 0.95, 0.8)]]);
        var request = new GenerationRequest
        {
            Prompt = "A hello kitty toy is playing with a purple ball.", Steps = plan.Steps, Height = 64, Width = 64, Seed = 1, Layout = layout,
        };
        var run = Stopwatch.StartNew();
        using var generated = pipe.Generate(request, p =>
        {
            var seconds = run.Elapsed.TotalSeconds;
            var asLeft = ResidentMemory.CurrentBytes;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            result.StepMemory.Add(new StepMemoryRow(longRun, p.StepIndex, seconds, ResidentMemory.MiB(asLeft), ResidentMemory.MiB(ResidentMemory.CurrentBytes)));
        });
        result.Notes.Add($"{plan.Steps}-step backward-guided run of {longRun} (64×64): {generated.Record.TotalIterations} guidance iterations, " +
                         $"{run.Elapsed.TotalSeconds:F1} s, process peak RSS {ResidentMemory.MiB(ResidentMemory.PeakBytes):F0} MiB.");
        return result;
    }
}
