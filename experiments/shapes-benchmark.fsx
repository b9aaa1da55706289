// The shapes layout benchmark: the embedded toy model on every layout of a layout set (30 single
// objects, 40 pairs in the four relations, 20 triples) without guidance, with forward guidance and with
// backward guidance at the model's defaults, each image scored by the shape detector. Per image and per
// object in metrics.csv: object found, colour found, IoU, IoU ≥ 0.5, centre in box, colour centred in
// box, pair relations, unrequested objects, attention in box; the report averages them per setting.
//   dotnet fsi experiments/shapes-benchmark.fsx                 (4 seeds: 1,080 images, about 34 minutes; the README's numbers)
//   dotnet fsi experiments/shapes-benchmark.fsx -- --seeds 64   (16 times the images and the time)
//   dotnet fsi experiments/shapes-benchmark.fsx -- --layouts my-layouts.json   (any layout set)
// Sweep η, window or layers by copying this grid into a script and adding axes after ModelDefaults.
#load "require-build.fsx"
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments

let layouts = orExit (fun () -> Layouts.fromFile (ShapesBenchmark.layoutFile repoRoot))

orExit (fun () -> ShapesBenchmark.experiment (ToyModel.folder toyFolder) layouts 4) |> run
