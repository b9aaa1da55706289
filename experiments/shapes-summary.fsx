// Summarises a shapes benchmark run as a markdown table: per guidance mode and layout kind (single,
// pair, triple), the mean of each per-image metric. Prints it and writes summary.md beside metrics.csv.
//   dotnet fsi experiments/shapes-summary.fsx                        (results/shapes-benchmark)
//   dotnet fsi experiments/shapes-summary.fsx -- results/toy-eta-sweep
#load "require-build.fsx"
#load "prelude.fsx"
open System.IO
open Prelude
open LayoutGuidance.Experiments

let folder =
    match fsi.CommandLineArgs |> Array.skip 1 |> Array.filter ((<>) "--") with
    | [| f |] -> f
    | _ -> Path.Combine("results", "shapes-benchmark")

let metrics = Path.Combine(folder, Runner.metricsFile)
if not (File.Exists metrics) then
    eprintfn "error: %s does not exist; run experiments/shapes-benchmark.fsx first (or name a results folder)" (Path.GetFullPath metrics)
    exit 1
let table, _ = MetricsCsv.read metrics
let text = ShapesBenchmark.summary table
File.WriteAllText(Path.Combine(folder, "summary.md"), text)
printf "%s" text
