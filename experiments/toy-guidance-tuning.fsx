// How the toy model's guidance defaults were chosen: backward guidance on the regression layouts
// (10 single objects, 8 pairs) × 2 seeds under guided layers Γ, η × max_iter, window and threshold
// settings, each scored by the shape detector. The table in docs/toy-model.md comes from it:
//   dotnet fsi experiments/toy-guidance-tuning.fsx        (504 images, about 25 minutes on 2 cores)
// Results: results/toy-guidance-tuning/index.html, metrics.csv (one row per image; group by the
// layers, eta, max_iter, step_start/step_end and loss_threshold columns).
#load "require-build.fsx"
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments

let layouts = orExit (fun () -> Layouts.fromFile (ShapesBenchmark.layoutFile repoRoot))

let twoLayers = "mid_block+up_blocks.0"
let allLayers = "down_blocks.1+mid_block+up_blocks.0"

let setting (layers: string) (eta: float) (maxIter: int) (window: int * int) (threshold: float) =
    $"Γ {layers}, η {eta} × {maxIter}, window {fst window}-{snd window}, threshold {threshold}",
    fun (c: Cell) -> { c with Layers = layers; Eta = eta; MaxIter = maxIter; Window = window; LossThreshold = threshold }

Experiment.create "toy-guidance-tuning" [
    Axis.models [ "toy" ]
    toySettings ()
    Axis.layouts (ShapesBenchmark.regressionLayouts layouts 10 2)
    Axis.guidance [ Guidance.Backward ]
    Axis.custom "setting" [
        // The earlier defaults, and which layers carry the layout.
        setting twoLayers 30.0 10 (0, 10) 0.05
        setting "mid_block" 30.0 10 (0, 10) 0.05
        setting "up_blocks.0" 30.0 10 (0, 10) 0.05
        setting allLayers 30.0 10 (0, 10) 0.05
        setting twoLayers 30.0 10 (2, 12) 0.05
        // The same total push in smaller steps.
        setting twoLayers 10.0 30 (0, 10) 0.05
        setting allLayers 10.0 20 (0, 10) 0.05
        setting allLayers 10.0 30 (0, 10) 0.05
        setting allLayers 5.0 20 (0, 10) 0.05
        setting allLayers 5.0 30 (0, 10) 0.05
        setting allLayers 5.0 40 (0, 10) 0.05
        setting allLayers 2.5 40 (0, 10) 0.05
        // Cheaper variants of the chosen one.
        setting allLayers 5.0 40 (0, 5) 0.05
        setting allLayers 5.0 40 (0, 10) 0.15 ]
    Axis.firstSeeds 2
]
|> run
