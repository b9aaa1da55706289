// Layout guidance on the embedded toy shapes model, no download needed: shapes asked for by caption
// ("a red circle and a blue square") and put into boxes by steering cross-attention. Rows of the
// gallery raise the guidance strength; objects move into their outlined boxes as it grows.
//   dotnet build -c Release && dotnet fsi experiments/quickstart.fsx
// Results: results/quickstart/gallery.png, index.html (sortable metrics), metrics.csv.
#load "require-build.fsx"  // says how to build the library when it is missing
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments

let layouts = [
    Layouts.boxes "one-corner" "a red circle" [ ("red circle", (0.06, 0.06, 0.44, 0.44)) ]
    Layouts.boxes "side-by-side" "a red circle and a blue square" [
        "red circle", (0.56, 0.31, 0.94, 0.69)
        "blue square", (0.06, 0.31, 0.44, 0.69) ]
    Layouts.boxes "stacked" "a green triangle and a yellow diamond" [
        "green triangle", (0.31, 0.56, 0.69, 0.94)
        "yellow diamond", (0.31, 0.06, 0.69, 0.44) ]
]

Experiment.create "quickstart" [
    Axis.models [ "toy" ]
    toySettings ()                  // the toy model's own steps, CFG, guided layers and window
    Axis.layouts layouts
    Axis.guidance [ Guidance.None; Guidance.Forward; Guidance.Backward ]
    // η for backward guidance; forward guidance reads eta as its edit strength λ in [0, 1].
    Axis.eta [ 0.5; 1.0; 10.0; 30.0; 90.0 ]
    Axis.firstSeeds 4
]
|> Experiment.where (fun c -> c.Guidance <> Guidance.Forward || c.Eta <= 1.0)
|> Experiment.where (fun c -> c.Guidance <> Guidance.Backward || c.Eta > 1.0)
|> Experiment.gallery "eta" "seed"
|> Experiment.plot "eta" "layout_accuracy"
|> Experiment.plot "eta" "in_box_ratio.mean"
|> run
