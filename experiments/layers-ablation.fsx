// Which cross-attention layers Γ the energy reads (paper §4, ablation): the mid block alone, the
// first up block alone, the paper's choice of both, a down block, and every layer; SD1.5, η = 30.
//   dotnet fsi experiments/layers-ablation.fsx -- --models ~/models --device cuda --dtype bf16
#load "require-build.fsx"  // says how to build the library when it is missing
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments

Experiment.create "layers-ablation" [
    Axis.models [ "sd15" ]
    Axis.layouts (layoutFile "sd-demo.json")
    Axis.layers [ "mid"; "up_blocks.1"; "mid+up_blocks.1"; "down_blocks.2"; "all" ]
    Axis.firstSeeds 4
]
|> Experiment.gallery "layers" "seed"
|> Experiment.plot "layers" "in_box_ratio.mean"
|> run
