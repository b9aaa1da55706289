// The output-quality regression grid: 10 single objects and 8 pairs of the shapes benchmark × no
// guidance / backward guidance × 2 seeds on the toy model. The test suite renders the same grid and
// compares it with results/baselines/toy-regression.csv; after a deliberate change to the toy model or
// the guidance, refresh that baseline:
//   dotnet fsi experiments/toy-regression.fsx -- --force
//   cp results/toy-regression/metrics.csv results/baselines/toy-regression.csv
// and compare any two runs: dotnet fsi experiments/toy-regression.fsx -- compare A B --max-drop center_success=0.1
#load "require-build.fsx"
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments

let layouts = orExit (fun () -> Layouts.fromFile (ShapesBenchmark.layoutFile repoRoot))

orExit (fun () -> ShapesBenchmark.regression (ToyModel.folder toyFolder) layouts) |> run
