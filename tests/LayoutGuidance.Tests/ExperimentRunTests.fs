module LayoutGuidance.Tests.ExperimentRunTests

open System
open System.Diagnostics
open System.IO
open System.Text.Json
open System.Threading
open System.Threading.Tasks
open Expecto
open LayoutGuidance.Experiments
open LayoutGuidance.Tests.ExperimentRenderer

let private kitty = Layouts.helloKitty
let private birds = Layouts.create "birds" "two birds on a wire" [ Layouts.phrase "birds" [ (0.0, 0.0, 0.3, 0.3); (0.6, 0.1, 0.9, 0.4) ] ]

/// 2 models × 2 η × 2 layouts × 2 seeds = 16 cells; models vary fastest, so their cells interleave.
let private grid =
    Experiment.create "runner" [
        Axis.eta [ 10.0; 30.0 ]
        Axis.layouts [ kitty; birds ]
        Axis.firstSeeds 2
        Axis.models [ "toy"; "sd15" ]
    ]
    |> Experiment.gallery "eta" "seed"

let private options (root: string) =
    { RunOptions.defaults with Output = root; Log = new StringWriter(); ProgressBar = false }

let private ids (table: MetricsTable) = table.Rows |> List.map (fun r -> r[Columns.cellId])

let private metrics (folder: string) =
    let table, dropped = MetricsCsv.read (Path.Combine(folder, "metrics.csv"))
    Expect.equal dropped 0 "metrics.csv has no damaged row"
    table

/// Rows without the columns that measure the run rather than the cell.
let private comparable (table: MetricsTable) =
    table.Rows
    |> List.map (fun r -> r |> Map.filter (fun k _ -> k <> Columns.wallSeconds && k <> Columns.peakMemory && k <> Columns.checksum))
    |> List.sortBy (fun r -> r[Columns.cellId])

let private resultsError (f: unit -> 'a) = (caught<ResultsException> (f >> ignore)).Message

let runTests =
    testList "runner" [
        test "a run writes images, metrics, manifest, gallery and report for every cell" {
            let root = Fixtures.tempDir ()
            let renderer = RectRenderer()
            let o = { options root with Settings = { RunOptions.defaults.Settings with Heatmaps = true; Dtype = "bf16" } }
            let summary = Runner.run renderer o grid
            let folder = Path.Combine(root, "runner")
            Expect.equal (summary.Total, summary.Rendered, summary.Skipped, summary.Remaining) (16, 16, 0, 0) "summary"
            let table = metrics folder
            Expect.equal (ids table |> List.sort) (Experiment.cells grid |> List.map _.Id |> List.sort) "one row per cell"
            for c in Experiment.cells grid do
                Expect.isTrue (File.Exists(Path.Combine(folder, "images", c.Id + ".png"))) $"image of {c.Id}"
                for p in c.Layout.Phrases do
                    let file = $"""{c.Id}-{p.Text.Replace(' ', '-')}.png"""
                    Expect.isTrue (File.Exists(Path.Combine(folder, "heatmaps", file))) file
            let first = table.Rows.Head
            Expect.equal (table.Columns |> List.take (1 + Columns.settings.Length)) (Columns.cellId :: Columns.settings) "settings columns first, in order"
            for m in [ "final_energy"; "in_box_ratio.0"; "in_box_ratio.mean"; "guidance_iterations"; "loss.first"; "loss.last"; "loss.min"; "loss.count"; Columns.wallSeconds; Columns.peakMemory ] do
                Expect.isTrue (List.contains m table.Columns) $"column {m}"
            Expect.equal (first["model"], first["dtype"], first["loss.count"]) ("toy", "bf16", "10") "values"
            let manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "manifest.json"))).RootElement
            Expect.equal (manifest.GetProperty("experiment").GetProperty("name").GetString()) "runner" "experiment"
            Expect.equal (manifest.GetProperty("experiment").GetProperty("cells").GetInt32()) 16 "cell count"
            Expect.equal (manifest.GetProperty("dtype").GetString()) "bf16" "dtype"
            Expect.equal (manifest.GetProperty("device").GetString()) "cpu" "device"
            Expect.isNotEmpty (manifest.GetProperty("tool").GetProperty("version").GetString()) "tool version"
            Expect.isNotEmpty (manifest.GetProperty("tool").GetProperty("git_commit").GetString()) "commit"
            Expect.equal (manifest.GetProperty("models").GetProperty("sd15").GetProperty("weights").GetProperty("unet/diffusion_pytorch_model.safetensors").GetString()) (String('a', 64)) "weight hash"
            Expect.isTrue (manifest.GetProperty("ended").GetString() >= manifest.GetProperty("started").GetString()) "times"
            for f in [ "gallery.png"; "index.html"; "plots/in_box_ratio.mean-vs-eta.png"; "plots/loss-vs-step.png" ] do
                Expect.isTrue (File.Exists(Path.Combine(folder, f))) f
            Expect.isFalse (File.Exists(Path.Combine(folder, ".lock"))) "lock released"
        }
        test "each model loads once for all its cells and is disposed" {
            let root = Fixtures.tempDir ()
            let renderer = RectRenderer()
            Runner.run renderer (options root) grid |> ignore
            Expect.equal (renderer.Loads, renderer.Disposed) (2, 2) "two models, two loads"
            Expect.equal renderer.Rendered.Length 16 "all cells"
        }
        test "existing results need --resume or --force" {
            let root = Fixtures.tempDir ()
            Runner.run (RectRenderer()) (options root) grid |> ignore
            let msg = resultsError (fun () -> Runner.run (RectRenderer()) (options root) grid)
            Expect.stringContains msg "--resume" "names --resume"
            Expect.stringContains msg "--force" "names --force"
            let again = RectRenderer()
            Runner.run again { options root with Existing = ExistingResults.Overwrite } grid |> ignore
            Expect.equal again.Rendered.Length 16 "--force renders everything again"
            Expect.equal (ids (metrics (Path.Combine(root, "runner")))).Length 16 "no duplicate rows"
            let resumed = RectRenderer()
            Runner.run resumed { options root with Existing = ExistingResults.Resume } grid |> ignore
            Expect.equal resumed.Loads 0 "nothing to do loads no model"
            let wrongDtype = { options root with Existing = ExistingResults.Resume; Settings = { RunOptions.defaults.Settings with Dtype = "fp16" } }
            Expect.stringContains (resultsError (fun () -> Runner.run (RectRenderer()) wrongDtype grid)) "rendered in fp32" "no mixed precisions"
        }
        test "after a kill, resume renders only the missing cells and each cell appears once" {
            let root = Fixtures.tempDir ()
            let folder = Path.Combine(root, "runner")
            // A crash in the middle of cell 6: five rows were written, the rest never started.
            Expect.throws (fun () -> Runner.run (RectRenderer(failAt = 6)) (options root) grid |> ignore) "planted failure"
            Expect.equal (ids (metrics folder)).Length 5 "five finished cells"
            Expect.isFalse (File.Exists(Path.Combine(folder, ".lock"))) "lock released after a failure"
            let r1 = RectRenderer()
            Runner.run r1 { options root with Existing = ExistingResults.Resume } grid |> ignore
            Expect.equal r1.Rendered.Length 11 "the eleven missing cells"
            // A kill in the middle of writing the last row, and an image lost afterwards.
            let csv = Path.Combine(folder, "metrics.csv")
            let text = File.ReadAllText csv
            let lastRowStart = text.LastIndexOf('\n', text.Length - 2) + 1
            File.WriteAllText(csv, text.Substring(0, lastRowStart + (text.Length - lastRowStart) / 2))
            let beforeKill, torn = MetricsCsv.read csv
            Expect.equal torn 1 "the torn row is detected"
            let lostImage = (ids beforeKill)[3]
            File.Delete(Path.Combine(folder, "images", lostImage + ".png"))
            let tornId = Experiment.cells grid |> List.map _.Id |> List.find (fun id -> not (List.contains id (ids beforeKill)))
            let r2 = RectRenderer()
            Runner.run r2 { options root with Existing = ExistingResults.Resume } grid |> ignore
            Expect.equal (List.sort r2.Rendered) (List.sort [ tornId; lostImage ]) "only the torn and the imageless cell"
            let final = metrics folder
            Expect.equal (ids final |> List.sort) (Experiment.cells grid |> List.map _.Id |> List.sort) "each cell exactly once"
        }
        test "a renderer metric that reuses a settings column fails on the first cell, writing nothing" {
            let root = Fixtures.tempDir ()
            let clashing =
                { new IRenderer with
                    member _.Check(_, _) = ()
                    member _.Load(_, model) =
                        { new ICellRenderer with
                            member _.Info = { Model = model.Name; Folder = "none"; WeightHashes = []; Details = [] }
                            member _.Render _ = { Image = { Width = 8; Height = 8; Pixels = Array.zeroCreate 192 }; Metrics = [ ("seed", 1.0) ]; Traces = []; Heatmaps = [] }
                            member _.Dispose() = () } }
            let e = caught<ExperimentException> (fun () -> Runner.run clashing (options root) grid |> ignore)
            Expect.stringContains e.Message "'seed'" "names the metric"
            Expect.isFalse (Directory.Exists(Path.Combine(root, "runner", "images"))) "no image written"
        }
        test "--limit renders at most N cells per run" {
            let root = Fixtures.tempDir ()
            let r = RectRenderer()
            let s = Runner.run r { options root with Limit = Some 3 } grid
            Expect.equal (r.Rendered.Length, s.Remaining) (3, 13) "three now, thirteen left"
            let s2 = Runner.run (RectRenderer()) { options root with Existing = ExistingResults.Resume } grid
            Expect.equal (s2.Skipped, s2.Rendered) (3, 13) "the rest on resume"
        }
    ]

let lockTests =
    testList "lock" [
        test "a second runner on the same experiment fails naming the lock file and the holder" {
            let root = Fixtures.tempDir ()
            use gate = new ManualResetEventSlim(false)
            let first = RectRenderer(gate = gate)
            let running = Task.Run(fun () -> Runner.run first (options root) grid)
            Expect.isTrue (first.Started.Wait(TimeSpan.FromSeconds 30.0)) "first runner started"
            let e = caught<ExperimentLockedException> (fun () -> Runner.run (RectRenderer()) (options root) grid |> ignore)
            Expect.stringContains e.Message (Path.Combine(Path.GetFullPath root, "runner", ".lock")) "lock path"
            Expect.stringContains e.Message $"pid {Environment.ProcessId}" "holder pid"
            Expect.stringContains e.Message Environment.MachineName "holder host"
            gate.Set()
            Expect.equal running.Result.Rendered 16 "first runner finishes"
        }
        test "a stale lock (its process is gone) is taken over" {
            let root = Fixtures.tempDir ()
            let folder = Path.Combine(root, "runner")
            Directory.CreateDirectory folder |> ignore
            use gone = Process.Start(ProcessStartInfo("true", UseShellExecute = false))
            gone.WaitForExit()
            let stale = { Pid = gone.Id; Host = Environment.MachineName; ProcessStart = DateTime.UtcNow.Ticks; Job = null; Acquired = DateTimeOffset.UtcNow }
            File.WriteAllText(Path.Combine(folder, ".lock"), JsonSerializer.Serialize stale)
            let s = Runner.run (RectRenderer()) (options root) grid
            Expect.equal s.Rendered 16 "ran"
            Expect.isFalse (File.Exists(Path.Combine(folder, ".lock"))) "lock released"
        }
        test "a lock from another host is respected, unless it is this batch job's own earlier run" {
            let folder = Fixtures.tempDir ()
            let elsewhere = { Pid = 4242; Host = "node-17"; ProcessStart = 0L; Job = "991"; Acquired = DateTimeOffset.UtcNow }
            File.WriteAllText(Path.Combine(folder, ".lock"), JsonSerializer.Serialize elsewhere)
            let e = caught<ExperimentLockedException> (fun () -> (ExperimentLock.Acquire folder :> IDisposable).Dispose())
            Expect.stringContains e.Message "pid 4242 on host node-17" "names the other host"
            Expect.stringContains e.Message "delete the lock file" "says how to recover"
            let before = Environment.GetEnvironmentVariable "SLURM_JOB_ID"
            try
                Environment.SetEnvironmentVariable("SLURM_JOB_ID", "991")
                use taken = ExperimentLock.Acquire folder
                Expect.equal taken.Holder.Job "991" "requeued job takes its own lock"
            finally
                Environment.SetEnvironmentVariable("SLURM_JOB_ID", before)
        }
    ]

let shardTests =
    testList "shards" [
        test "shard 1/2 + 2/2 + merge equals the unsharded run, cell for cell" {
            let whole, sharded = Fixtures.tempDir (), Fixtures.tempDir ()
            Runner.run (RectRenderer()) (options whole) grid |> ignore
            let s1 = Runner.run (RectRenderer()) { options sharded with Shard = Some { Index = 1; Count = 2 } } grid
            let s2 = Runner.run (RectRenderer()) { options sharded with Shard = Some { Index = 2; Count = 2 } } grid
            Expect.equal (s1.Total + s2.Total) 16 "shards cover the grid"
            Expect.stringContains s1.Folder "shard-1-of-2" "shard folder"
            let merged = Merge.run (options sharded) false grid
            Expect.equal (merged.Cells, merged.Expected) (16, 16) "all cells merged"
            let a, b = Path.Combine(whole, "runner"), Path.Combine(sharded, "runner")
            Expect.equal (comparable (metrics b)) (comparable (metrics a)) "same rows"
            for id in ids (metrics a) do
                Expect.equal (File.ReadAllBytes(Path.Combine(b, "images", id + ".png"))) (File.ReadAllBytes(Path.Combine(a, "images", id + ".png"))) $"image {id}"
            for f in [ "gallery.png"; "index.html"; "manifest.json" ] do
                Expect.isTrue (File.Exists(Path.Combine(b, f))) f
            let manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(b, "manifest.json"))).RootElement
            Expect.equal (manifest.GetProperty("runs").GetArrayLength()) 3 "two shard runs and the merge"
            Merge.run (options sharded) false grid |> ignore
            let again = JsonDocument.Parse(File.ReadAllText(Path.Combine(b, "manifest.json"))).RootElement
            Expect.equal (again.GetProperty("runs").GetArrayLength()) 4 "merging again adds only its own run"
        }
        test "merge refuses missing shards unless --partial" {
            let root = Fixtures.tempDir ()
            Runner.run (RectRenderer()) { options root with Shard = Some { Index = 2; Count = 3 } } grid |> ignore
            let msg = resultsError (fun () -> Merge.run (options root) false grid)
            Expect.stringContains msg "shard-1-of-3, shard-3-of-3" "names the missing shards"
            Expect.stringContains msg "--partial" "names the way out"
            let partial = Merge.run (options root) true grid
            Expect.isLessThan partial.Cells partial.Expected "partial merge"
        }
    ]

let compareTests =
    testList "compare" [
        test "an identical rerun passes; a planted drop in quality fails the threshold" {
            let baseline, rerun, worse = Fixtures.tempDir (), Fixtures.tempDir (), Fixtures.tempDir ()
            Runner.run (RectRenderer()) (options baseline) grid |> ignore
            Runner.run (RectRenderer()) (options rerun) grid |> ignore
            Runner.run (RectRenderer(penalty = 0.1)) (options worse) grid |> ignore
            let load root = Compare.load (Path.Combine(root, "runner"))
            let thresholds = [ Compare.parseThreshold Better.Higher "in_box_ratio.mean=0.05"; Compare.parseThreshold Better.Lower "final_energy=0.01" ]
            let same = Compare.run (load baseline) (load rerun) thresholds
            Expect.isTrue same.Passed "identical rerun passes"
            Expect.equal same.Matched 16 "all cells matched"
            let energy = same.Metrics |> List.find (fun m -> m.Metric = "final_energy")
            Expect.equal (energy.Difference, energy.MaxCellDifference) (0.0, 0.0) "no difference"
            let dropped = Compare.run (load baseline) (Compare.load (Path.Combine(worse, "runner", "metrics.csv"))) thresholds
            Expect.isFalse dropped.Passed "drop detected"
            let ratio = dropped.Metrics |> List.find (fun m -> m.Metric = "in_box_ratio.mean")
            Expect.isTrue ratio.Failed "the in-box ratio fails"
            Expect.floatClose Accuracy.high ratio.Difference -0.1 "by the planted amount"
            Expect.isFalse (dropped.Metrics |> List.find (fun m -> m.Metric = "final_energy")).Failed "energy unchanged"
            let out = new StringWriter()
            Compare.print out dropped
            Expect.stringContains (out.ToString()) "FAIL drop <= 0.05" "report names the failed check"
            let missing = Compare.run (load baseline) (load rerun) [ Compare.parseThreshold Better.Higher "layout_accuracy=0.1" ]
            Expect.isFalse missing.Passed "a threshold on an absent metric fails"
        }
    ]

[<Tests>]
let tests = testList "experiments" [ runTests; lockTests; shardTests; compareTests ]
