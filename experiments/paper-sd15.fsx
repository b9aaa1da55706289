// The paper's demo on Stable Diffusion 1.5 exactly as the original code runs it: LMS scheduler with
// the SD1.5 betas (not the folder's config), 51 steps, CFG 7.5, seed 445, η = 30, Γ = mid block and
// up_blocks.1, guidance in steps [0, 10), 5 iterations, threshold 0.2; next to the unguided image.
//   dotnet fsi experiments/paper-sd15.fsx -- --models ~/models [--device cuda]
#load "require-build.fsx"  // says how to build the library when it is missing
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments
open type LayoutGuidance.Guidance.ReferenceSettings

Experiment.create "paper-sd15" [
    Axis.models [ "sd15" ]
    Axis.layouts Layouts.demo
    Axis.scheduler [ "reference" ]
    Axis.steps [ Steps ]
    Axis.cfg [ GuidanceScale ]
    Axis.eta [ 30.0 ]
    Axis.layers [ "mid+up_blocks.1" ]
    Axis.window [ (0, 10) ]
    Axis.maxIter [ 5 ]
    Axis.lossThreshold [ 0.2 ]
    Axis.guidance [ Guidance.None; Guidance.Backward ]
    Axis.seeds [ Seed ]
]
|> Experiment.gallery "guidance" "seed"
|> run
