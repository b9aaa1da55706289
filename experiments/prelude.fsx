// Shared start of every experiment script: `#load "prelude.fsx"`, then the science.
// References the Release build of src/LayoutGuidance.Experiments (it holds the core, TorchSharp and
// the native libraries), loads libtorch by full path, registers the embedded toy model and exposes
// the pipeline renderer.
#load "require-build.fsx"
#I "../src/LayoutGuidance.Experiments/bin/Release/net10.0/linux-x64"
#r "TorchSharp.dll"
#r "LayoutGuidance.dll"
#r "LayoutGuidance.Experiments.dll"

open System.IO
open LayoutGuidance.Experiments

LayoutGuidance.Native.TorchRuntime.Initialize()

/// The repository root: scripts live in its experiments/ folder.
let repoRoot = Path.GetFullPath(Path.Combine(__SOURCE_DIRECTORY__, ".."))

/// The embedded toy shapes model (64×64 images of coloured shapes), `toy` in grids and in
/// StableDiffusionPipeline.Load.
let toyFolder = Path.Combine(repoRoot, "models", "toy")

if File.Exists(Path.Combine(toyFolder, "model_index.json")) then
    LayoutGuidance.Weights.ModelLocation.Register("toy", toyFolder)

/// Renders cells with the real pipelines (see PipelineRenderer).
let renderer = PipelineRenderer(toyFolder)

/// Runs `f`, or stops the script with its message when the grid cannot be built (a missing model,
/// a malformed layout), instead of a stack trace.
let orExit (f: unit -> 'a) =
    try f ()
    with :? ExperimentException as e ->
        eprintfn "error: %s" e.Message
        exit 1

/// The toy model's own guidance settings (its layout_guidance.json) as a one-value axis; stops the
/// script saying so when the toy model is missing.
let toySettings () = orExit (fun () -> ModelDefaults.axis "toy" toyFolder)

/// Renders (or merges, compares, lists) the experiment as the command line says and ends the script
/// with its exit code; `-- --help` lists the options.
let run (e: Experiment) = exit (Experiment.run fsi.CommandLineArgs renderer e)
