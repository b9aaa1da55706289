// Shared start of every experiment script, then the science:
//   #load "require-build.fsx"
//   #load "prelude.fsx"
// References the Release build of src/LayoutGuidance.Experiments (it holds the core, TorchSharp and
// the native libraries), loads libtorch by full path, registers the embedded toy model and exposes
// the pipeline renderer. fsi resolves this file's references before running any of it, so the check
// that the build exists must be loaded on its own line first.
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
let toySettings () = orExit (fun () -> ModelDefaults.axis "toy" (ToyModel.folder toyFolder))

/// The layouts of experiments/layouts/<file> (JSON or CSV, see docs/experiments.md).
let layoutFile (file: string) = orExit (fun () -> Layouts.fromFile (Path.Combine(__SOURCE_DIRECTORY__, "layouts", file)))

/// Renders (or merges, compares, lists) the experiment as the command line says and ends the script
/// with its exit code; `-- --help` lists the options.
let run (e: Experiment) = exit (Experiment.run fsi.CommandLineArgs renderer e)
