// Forward guidance (edit the attention maps towards the boxes, paper §3.2) against backward guidance
// (move the latent down the energy's gradient, §3.3) on SD1.5, each at a few strengths, next to the
// unguided image. Forward guidance reads eta as its edit strength λ in [0, 1]; backward reads η.
//   dotnet fsi experiments/forward-vs-backward.fsx -- --models ~/models --device cuda --dtype bf16
#load "require-build.fsx"  // says how to build the library when it is missing
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments

Experiment.create "forward-vs-backward" [
    Axis.models [ "sd15" ]
    Axis.layouts (layoutFile "sd-demo.json")
    Axis.guidance [ Guidance.None; Guidance.Forward; Guidance.Backward ]
    Axis.eta [ 0.25; 0.5; 1.0; 10.0; 30.0; 60.0 ]
    Axis.firstSeeds 4
]
|> Experiment.where (fun c -> c.Guidance <> Guidance.Forward || c.Eta <= 1.0)
|> Experiment.where (fun c -> c.Guidance <> Guidance.Backward || c.Eta > 1.0)
|> Experiment.gallery "eta" "seed"
|> Experiment.plot "eta" "in_box_ratio.mean"
|> run
