// Layout guidance on the embedded toy shapes model, no download needed: shapes asked for by caption
// ("a red circle and a blue square") and put into boxes by steering cross-attention. Gallery rows raise
// the guidance strength (η for backward guidance, λ for forward guidance, 0 = none); objects move into
// their outlined boxes as it grows.
//   dotnet build -c Release && dotnet fsi experiments/quickstart.fsx
// Results: results/quickstart/gallery.png, index.html (sortable metrics, plots against η), metrics.csv.
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
    toySettings ()                  // the toy model's own steps, CFG, guided layers, window and η
    Axis.layouts layouts
    Axis.custom "guidance" [
        yield "none", (fun c -> { c with Guidance = Guidance.None })
        // Forward guidance edits the maps themselves (strength λ in [0, 1]), here at every step.
        for λ in [ 0.5; 1.0 ] ->
            $"forward λ={λ}", (fun c -> { c with Guidance = Guidance.Forward; Eta = λ; Window = (0, c.Steps) })
        // Backward guidance: z ← z − η·σ²·∇E in the model's guided window (σ: the noise level of the
        // scheduler's latents; for the toy model's DDIM √(1 − ᾱ_t), near 1 in the first steps).
        for η in [ 1.0; 5.0; 30.0 ] ->
            $"backward η={η}", (fun c -> { c with Guidance = Guidance.Backward; Eta = η }) ]
    Axis.firstSeeds 4
]
|> Experiment.gallery "eta" "seed"
|> Experiment.plot "eta" "color_center_success"
|> Experiment.plot "eta" "in_box_ratio.mean"
|> Experiment.plot "eta" "object_accuracy"
|> run
