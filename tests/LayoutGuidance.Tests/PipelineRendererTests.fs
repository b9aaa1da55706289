module LayoutGuidance.Tests.PipelineRendererTests

open System
open System.Diagnostics
open System.IO
open System.Security.Cryptography
open Expecto
open LayoutGuidance.Experiments
open LayoutGuidance.Toy
open LayoutGuidance.Tests.ExperimentRenderer

let private tiny = Fixtures.path [ "tiny-sd15" ]

/// The tiny random SD1.5 at 64×64, 3 steps, guidance in the first 2: every cell renders in well under a second.
let private small name (axes: Axis list) =
    Experiment.create name (
        [ Axis.models [ tiny ]
          Axis.layouts [ Layouts.helloKitty ]
          Axis.resolution [ (64, 64) ]
          Axis.steps [ 3 ]
          Axis.window [ (0, 2) ]
          Axis.maxIter [ 2 ] ]
        @ axes
    )

let private options (root: string) heatmaps =
    { RunOptions.defaults with
        Output = root
        Log = new StringWriter()
        ProgressBar = false
        Settings = { RunOptions.defaults.Settings with Heatmaps = heatmaps } }

let private rows (folder: string) =
    let table, dropped = MetricsCsv.read (Path.Combine(folder, Runner.metricsFile))
    Expect.equal dropped 0 "no damaged row"
    table

/// Wraps a renderer, counting renders.
type private Counting(inner: IRenderer) =
    member val Rendered = 0 with get, set

    interface IRenderer with
        member _.Check(s, cells) = inner.Check(s, cells)

        member this.Load(s, model) =
            let loaded = inner.Load(s, model)
            { new ICellRenderer with
                member _.Info = loaded.Info
                member _.Render cell =
                    this.Rendered <- this.Rendered + 1
                    loaded.Render cell
                member _.Dispose() = loaded.Dispose() }

let private renderer () = PipelineRenderer(Path.Combine(Fixtures.tempDir (), "toy"))

/// A shapes-data image and the layout of its own objects, optionally shifted right by `dx`.
let private shapesImage (seed: uint64) (dx: float) =
    let sample = ShapesDataset.Generate seed
    let phrases =
        [ for o in sample.Objects ->
            let b = o.Box
            Layouts.phrase (ShapeWords.Phrase(o.Color, o.Shape)) [ (min 0.98 (b.X0 + dx), b.Y0, min 1.0 (b.X1 + dx), b.Y1) ] ]
    let layout = Layouts.create "sample" sample.Caption phrases
    layout, { Width = ShapesDataset.ImageSize; Height = ShapesDataset.ImageSize; Pixels = sample.Rgb }

[<Tests>]
let tests =
    testList "pipeline renderer" [
        test "a 2-cell grid on tiny-sd15 writes images, metric columns, loss traces, heatmaps and weight hashes" {
            LayoutGuidance.Native.TorchRuntime.Initialize()
            let root = Fixtures.tempDir ()
            let e = small "tiny-grid" [ Axis.guidance [ Guidance.None; Guidance.Backward ] ]
            let summary = Runner.run (renderer ()) (options root true) e
            Expect.equal (summary.Rendered, summary.Remaining) (2, 0) "both cells rendered"
            let folder = Path.Combine(root, "tiny-grid")
            let table = rows folder
            for column in [ "in_box_ratio.0"; "in_box_ratio.1"; "in_box_ratio.mean"; "guidance_iterations"; "final_energy"; "loss.count" ] do
                Expect.contains table.Columns column $"metrics.csv has {column}"
            let byMode = table.Rows |> List.map (fun r -> r["guidance"], r) |> Map.ofList
            let unguided, guided = byMode["none"], byMode["backward"]
            Expect.equal unguided["final_energy"] "" "no energy without backward guidance"
            Expect.equal unguided["guidance_iterations"] "0" "no iterations without guidance"
            Expect.equal guided["guidance_iterations"] "4" "2 guided steps × 2 iterations"
            Expect.equal guided["loss.count"] "4" "one loss per iteration"
            for r in table.Rows do
                let ratio = float r["in_box_ratio.0"]
                Expect.isTrue (ratio > 0.0 && ratio <= 1.0) $"in-box ratio {ratio} is a share"
                let id = r[Columns.cellId]
                use image = SixLabors.ImageSharp.Image.Load(Path.Combine(folder, "images", id + ".png"))
                Expect.equal (image.Width, image.Height) (64, 64) "the requested resolution"
                for phrase in [ "hello-kitty"; "ball" ] do
                    Expect.isTrue (File.Exists(Path.Combine(folder, "heatmaps", $"{id}-{phrase}.png"))) $"heatmap of {phrase}"
            Expect.isTrue (File.Exists(Path.Combine(folder, "traces", guided[Columns.cellId] + ".json"))) "loss trace of the guided cell"
            let manifest = File.ReadAllText(Path.Combine(folder, "manifest.json"))
            let unetHash = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(tiny, "unet", "diffusion_pytorch_model.safetensors")))).ToLowerInvariant()
            Expect.stringContains manifest unetHash "the manifest records the UNet's SHA-256"
        }

        test "η = 0 renders the unguided image; forward guidance, layers \"all\" and the reference scheduler run" {
            let root = Fixtures.tempDir ()
            let e =
                small "tiny-modes" [
                    Axis.custom "mode" [
                        "none", fun c -> { c with Guidance = Guidance.None }
                        "eta0", fun c -> { c with Guidance = Guidance.Backward; Eta = 0.0 }
                        "forward", fun c -> { c with Guidance = Guidance.Forward; Eta = 0.5; Layers = "all"; Scheduler = "reference" }
                    ]
                ]
            Runner.run (renderer ()) (options root false) e |> ignore
            let folder = Path.Combine(root, "tiny-modes")
            let table = rows folder
            let image guidance eta =
                let r = table.Rows |> List.find (fun r -> r["guidance"] = guidance && r["eta"] = eta)
                File.ReadAllBytes(Path.Combine(folder, r[Columns.image]))
            Expect.sequenceEqual (image "backward" "0") (image "none" "0") "no latent update at η = 0"
            Expect.notEqual (image "forward" "0.5") (image "none" "0") "forward guidance changes the image"
        }

        test "models that are not downloaded fail within a second with their download commands, before anything is written" {
            let root = Fixtures.tempDir ()
            let models = Fixtures.tempDir ()
            let e = small "missing" [ Axis.models [ tiny; "sd15"; "sdxl" ] ]
            let counting = Counting(renderer ())
            let o = options root false
            let clock = Stopwatch.StartNew()
            let ex = caught<ModelMissingException> (fun () -> Runner.run counting { o with Settings = { o.Settings with ModelsRoot = Some models } } e |> ignore)
            Expect.isLessThan clock.Elapsed.TotalSeconds 1.0 "fails at once"
            Expect.stringContains ex.Message "huggingface-cli download stable-diffusion-v1-5/stable-diffusion-v1-5" "the download command"
            Expect.stringContains ex.Message (Path.Combine(models, "sd15")) "the folder it looked at"
            Expect.stringContains ex.Message "huggingface-cli download stabilityai/stable-diffusion-xl-base-1.0" "every missing model at once"
            Expect.equal counting.Rendered 0 "no cell rendered, not even the tiny model's"
            Expect.isFalse (Directory.Exists(Path.Combine(root, "missing"))) "no results folder"
        }

        test "--device cuda without CUDA is refused before the run, naming the build switch" {
            LayoutGuidance.Native.TorchRuntime.Initialize()
            if TorchSharp.torch.cuda.is_available() then skiptest "CUDA is available on this machine"
            let settings = { RunOptions.defaults.Settings with Device = "cuda" }
            let ex = caught<ExperimentException> (fun () -> (renderer () :> IRenderer).Check(settings, Experiment.cells (small "cuda" [])))
            Expect.stringContains ex.Message "-p:TorchBackend=cuda" "how to get a CUDA build"
        }

        test "the toy model, when its folder is missing, is reported missing" {
            let toy = Path.Combine(Fixtures.tempDir (), "toy")
            let e = Experiment.create "toy" [ Axis.models [ "toy" ]; Axis.layouts [ Layouts.boxes "one" "a red circle" [ "red circle", (0.1, 0.1, 0.5, 0.5) ] ] ]
            let ex = caught<ModelMissingException> (fun () -> Runner.run (PipelineRenderer toy) (options (Fixtures.tempDir ()) false) e |> ignore)
            Expect.stringContains ex.Message "the toy model is missing" "says what is missing"
            Expect.stringContains ex.Message toy "and where it was looked for"
        }

        test "cells the model cannot render fail before the first render: forward λ outside [0, 1], unknown scheduler, toy phrases" {
            let check (e: Experiment) =
                (caught<RenderException> (fun () -> (renderer () :> IRenderer).Check(RunOptions.defaults.Settings, Experiment.cells e))).Message
            Expect.stringContains (check (small "fw" [ Axis.guidance [ Guidance.Forward ]; Axis.eta [ 30.0 ] ])) "λ" "forward reads eta as λ"
            Expect.stringContains (check (small "sch" [ Axis.scheduler [ "Heun" ] ])) "LMSDiscreteScheduler" "lists the schedulers"
            let toy = PipelineRenderer(tiny)
            let e = Experiment.create "toy" [ Axis.models [ "toy" ]; Axis.layouts [ Layouts.helloKitty ] ]
            let ex = caught<RenderException> (fun () -> (toy :> IRenderer).Check(RunOptions.defaults.Settings, Experiment.cells e))
            Expect.stringContains ex.Message "shapes phrases" "the toy model's vocabulary"
        }

        test "resume renders only the cells that are missing" {
            let root = Fixtures.tempDir ()
            let e = small "resume" [ Axis.firstSeeds 3 ]
            let first = Counting(renderer ())
            Runner.run first { options root false with Limit = Some 1 } e |> ignore
            let second = Counting(renderer ())
            let s = Runner.run second { options root false with Existing = ExistingResults.Resume } e
            Expect.equal (first.Rendered, second.Rendered, s.Skipped) (1, 2, 1) "one, then the other two"
            Expect.equal (rows (Path.Combine(root, "resume"))).Rows.Length 3 "three rows"
        }

        test "shape metrics find the objects of a shapes image in their own boxes, and not in shifted ones" {
            let layout, image = shapesImage 11UL 0.0
            let metrics = ShapeMetrics.score layout image |> Map.ofList
            Expect.equal metrics["object_accuracy"] 1.0 "every object found"
            Expect.equal metrics["layout_accuracy"] 1.0 "every object in its box"
            Expect.equal metrics["color_layout_accuracy"] 1.0 "every object's colour in its box"
            Expect.isGreaterThan metrics["mean_iou"] 0.7 "boxes match"
            for i in 0 .. layout.Phrases.Length - 1 do
                Expect.equal metrics[$"center_in_box.{i}"] 1.0 $"object {i} centred in its box"
            let shifted, _ = shapesImage 11UL 0.5
            let moved = ShapeMetrics.score shifted image |> Map.ofList
            Expect.equal moved["object_accuracy"] 1.0 "still found"
            Expect.equal moved["layout_accuracy"] 0.0 "but not where the layout asks"
            Expect.equal moved["color_layout_accuracy"] 0.0 "not even by colour"
        }
    ]
