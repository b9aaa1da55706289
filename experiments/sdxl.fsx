// Layout guidance on SDXL base (1024×1024, two text encoders). Γ is the mid block and up_blocks.0,
// SDXL's first up block with cross-attention (its up_blocks.1 sits at the 64×64 level); η = 30,
// guidance in steps [0, 10) of 50. The VAE stays in float32 (force_upcast), as in diffusers.
//   dotnet fsi experiments/sdxl.fsx -- --models ~/models --device cuda --dtype bf16
#load "require-build.fsx"  // says how to build the library when it is missing
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments

Experiment.create "sdxl" [
    Axis.models [ "sdxl" ]
    Axis.layouts (layoutFile "sd-demo.json")
    Axis.layers [ "mid+up_blocks.0" ]
    Axis.guidance [ Guidance.None; Guidance.Backward ]
    Axis.firstSeeds 4
]
|> Experiment.gallery "guidance" "seed"
|> run
