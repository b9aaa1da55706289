// η sweep on the embedded toy model: how placement (colour centred in its box, attention in the box)
// and image quality (shapes recognised, colours right, unrequested blobs) trade off as backward
// guidance grows stronger, at the model's 40 iterations per guided step. 10 single objects and 8
// pairs of the shapes benchmark × 2 seeds; η = 0 is the unguided image.
//   dotnet fsi experiments/toy-eta-sweep.fsx
// Results: results/toy-eta-sweep/index.html (plots against η), gallery.png (rows: η).
#load "require-build.fsx"
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments

let layouts = orExit (fun () -> Layouts.fromFile (ShapesBenchmark.layoutFile repoRoot))

Experiment.create "toy-eta-sweep" [
    Axis.models [ "toy" ]
    toySettings ()
    Axis.layouts (ShapesBenchmark.regressionLayouts layouts 10 2)
    Axis.guidance [ Guidance.None; Guidance.Backward ]
    Axis.eta [ 1.0; 2.5; 5.0; 10.0; 30.0; 100.0 ]
    Axis.firstSeeds 2
]
|> Experiment.gallery "eta" "layout"
|> Experiment.plot "eta" "color_center_success"
|> Experiment.plot "eta" "in_box_ratio.mean"
|> Experiment.plot "eta" "object_accuracy"
|> Experiment.plot "eta" "color_accuracy"
|> Experiment.plot "eta" "unrequested_objects"
|> run
