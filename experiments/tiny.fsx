// Smoke test of the whole path on the tiny random SD1.5, SD2.1 and SDXL fixtures (noise images):
// model × guidance × seed, 64×64, 3 steps, in a few seconds. Run from the repository root:
//   dotnet fsi experiments/tiny.fsx -- --force --heatmaps
#load "require-build.fsx"  // says how to build the library when it is missing
#load "prelude.fsx"
open Prelude
open LayoutGuidance.Experiments

Experiment.create "tiny" [
    Axis.models [ "./tests/fixtures/tiny-sd15"; "./tests/fixtures/tiny-sd21"; "./tests/fixtures/tiny-sdxl" ]
    Axis.layouts [ Layouts.helloKitty ]
    Axis.resolution [ (64, 64) ]
    Axis.steps [ 3 ]
    Axis.window [ (0, 2) ]
    Axis.maxIter [ 2 ]
    Axis.guidance [ Guidance.None; Guidance.Backward ]
    Axis.firstSeeds 2
]
|> Experiment.gallery "model" "seed"
|> run
