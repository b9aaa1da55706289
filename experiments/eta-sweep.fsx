// How strongly to steer: the loss scale η of backward guidance on SD1.5, from 0 (the unguided image)
// to well past the paper's 30, where images start to lose quality. Plots the attention share inside
// the boxes and the final energy against η.
//   dotnet fsi experiments/eta-sweep.fsx -- --models ~/models --device cuda --dtype bf16
#load "require-build.fsx"  // says how to build the library when it is missing
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments

Experiment.create "eta-sweep" [
    Axis.models [ "sd15" ]
    Axis.layouts (layoutFile "sd-demo.json")
    Axis.eta [ 0.0; 5.0; 10.0; 20.0; 30.0; 50.0; 80.0 ]
    Axis.firstSeeds 4
]
|> Experiment.gallery "eta" "seed"
|> Experiment.plot "eta" "in_box_ratio.mean"
|> Experiment.plot "eta" "final_energy"
|> run
