// Layout guidance on Stable Diffusion 2.1 (768×768, v-prediction) with the paper's settings: the
// same Γ as SD1.5 (the UNets share their block layout), η = 30, guidance in steps [0, 10) of 50.
//   dotnet fsi experiments/sd21.fsx -- --models ~/models --device cuda --dtype bf16
#load "require-build.fsx"  // says how to build the library when it is missing
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments

Experiment.create "sd21" [
    Axis.models [ "sd21" ]
    Axis.layouts (layoutFile "sd-demo.json")
    Axis.guidance [ Guidance.None; Guidance.Backward ]
    Axis.firstSeeds 4
]
|> Experiment.gallery "guidance" "seed"
|> run
