// The same layouts on SD1.5, SD2.1 and SDXL, each with the paper's settings and its own Γ (mid block
// and the first up block with cross-attention: up_blocks.1 on SD1.5/2.1, up_blocks.0 on SDXL), at
// its native resolution; guided and unguided.
//   dotnet fsi experiments/compare-models.fsx -- --models ~/models --device cuda --dtype bf16
#load "require-build.fsx"  // says how to build the library when it is missing
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments

Experiment.create "compare-models" [
    Axis.custom "model" [
        "sd15", fun c -> { c with Model = Model.Sd15; Layers = "mid+up_blocks.1" }
        "sd21", fun c -> { c with Model = Model.Sd21; Layers = "mid+up_blocks.1" }
        "sdxl", fun c -> { c with Model = Model.Sdxl; Layers = "mid+up_blocks.0" }
    ]
    Axis.layouts (layoutFile "sd-demo.json")
    Axis.guidance [ Guidance.None; Guidance.Backward ]
    Axis.firstSeeds 4
]
|> Experiment.gallery "model" "seed"
|> Experiment.plot "guidance" "in_box_ratio.mean"
|> run
