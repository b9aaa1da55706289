module LayoutGuidance.Tests.PipelineTests

open System
open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open LayoutGuidance.Guidance
open LayoutGuidance.Models.UNet
open LayoutGuidance.Pipelines
open LayoutGuidance.Text
open LayoutGuidance.Tests.TestTensors

let private load family = StableDiffusionPipeline.Load(Fixtures.path [ $"tiny-{family}" ])

let private guidanceIndex () =
    JsonDocument.Parse(File.ReadAllText(Fixtures.path [ "cases"; "layout_guidance"; "index.json" ])).RootElement

let private boxesOf (e: JsonElement) : BoundingBox list list =
    [ for obj in e.EnumerateArray() -> [ for b in obj.EnumerateArray() -> BoundingBox.FromArray [| for v in b.EnumerateArray() -> v.GetDouble() |] ] ]

let private positionsOf (e: JsonElement) = [ for obj in e.EnumerateArray() -> [| for p in obj.EnumerateArray() -> p.GetInt32() |] ]

let private demoObjects (case: JsonElement) =
    let phrases = (case.GetProperty "phrases").GetString().Split(';') |> Array.map (fun s -> s.Trim())
    List.zip3 (List.ofArray phrases) (boxesOf (case.GetProperty "bboxes")) (positionsOf (case.GetProperty "object_positions"))
    |> List.map (fun (p, b, pos) -> LayoutObject(p, ResizeArray b, pos))

/// Resident memory of this process in bytes (Linux).
let private rss () =
    File.ReadAllLines "/proc/self/status"
    |> Array.find (fun l -> l.StartsWith "VmRSS:")
    |> fun l -> int64 (l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024L

let private iterationCase family =
    guidanceIndex().GetProperty("iteration_cases").EnumerateArray() |> Seq.find (fun c -> c.GetProperty("name").GetString() = $"{family}_guidance_iteration")

let private defaultGuidedPaths (pipe: StableDiffusionPipeline) =
    pipe.DefaultBackwardGuidance.Layers.Resolve(pipe.UNet.CrossAttentionLayers |> Seq.map (fun l -> l.Path) |> Seq.toArray)

let private guidanceIteration family =
    test $"{family}: one backward-guidance iteration (loss, gradient, updated latents, maps)" {
        let case = iterationCase family
        use pipe = load family
        use t = caseTensors [ "cases"; "layout_guidance"; $"{family}_guidance_iteration.safetensors" ]
        let expectedPaths = [ for k in [ "guided_layers_mid"; "guided_layers_up" ] do for p in case.GetProperty(k).EnumerateArray() -> p.GetString() ]
        let paths = defaultGuidedPaths pipe
        Expect.sequenceEqual paths expectedPaths "the family's default Γ is the reference's guided layers"
        let options = BackwardGuidanceOptions(LossScale = case.GetProperty("loss_scale").GetDouble(), MaxIterations = 1, Window = StepWindow(1, 2))
        let guidance = BackwardGuidance(options, paths, demoObjects case)
        let sigma = float ((t.Load "sigma").ToSingle())
        use latents = t.Load "latents"
        let added = if t.Contains "text_embeds" then AddedConditions(t.Load "text_embeds", t.Load "time_ids") else null
        let mutable maps = Map.empty
        use updated =
            guidance.Step(1, latents, sigma, (fun x -> x / Math.Sqrt(sigma * sigma + 1.0)), fun scaled capture ->
                expectClose 1e-6 1e-7 scaled (t.Load "scaled_model_input") "scaled_model_input"
                pipe.UNet.forward(scaled, t.Load "timestep", t.Load "encoder_hidden_states", added, capture) |> ignore
                maps <- capture.Maps |> Seq.map (fun kv -> kv.Key, kv.Value.detach().clone().DetachFromDisposeScope()) |> Map.ofSeq)
        let it = Seq.exactlyOne guidance.Iterations
        Expect.floatClose { absolute = 1e-5; relative = 1e-5 } it.Energy (float ((t.Load "loss_unscaled").ToSingle())) "loss (unscaled)"
        Expect.floatClose { absolute = 1e-4; relative = 1e-5 } (it.Energy * options.LossScale) (float ((t.Load "loss").ToSingle())) "loss = η·E"
        for p in paths do expectClose 1e-4 1e-5 maps[p] (t.Load $"attn.{p}") p
        use grad = (latents - updated) / (sigma * sigma)
        expectClose 1e-3 1e-4 grad (t.Load "grad") "gradient"
        expectClose 1e-3 1e-4 updated (t.Load "updated_latents") "updated latents"
    }

/// The reference guides the LMS scheduler's samples x = x_0 + σ·ε; a variance-preserving scheduler (DDIM,
/// PNDM, DPM-Solver) holds x/√(σ² + 1). One iteration on those must move the same diffusion state.
let private variancePreservingIteration =
    test "sd15: on variance-preserving samples an iteration moves the state as the reference's σ-space update does" {
        let case = iterationCase "sd15"
        use pipe = load "sd15"
        use t = caseTensors [ "cases"; "layout_guidance"; "sd15_guidance_iteration.safetensors" ]
        let paths = defaultGuidedPaths pipe
        let options = BackwardGuidanceOptions(LossScale = case.GetProperty("loss_scale").GetDouble(), MaxIterations = 1, Window = StepWindow(1, 2))
        let sigma = float ((t.Load "sigma").ToSingle())
        let scale = Math.Sqrt(sigma * sigma + 1.0)
        let run (latents: torch.Tensor) noiseStd (scaleInput: torch.Tensor -> torch.Tensor) =
            let guidance = BackwardGuidance(options, paths, demoObjects case)
            guidance.Step(1, latents, noiseStd, scaleInput, fun scaled capture ->
                pipe.UNet.forward(scaled, t.Load "timestep", t.Load "encoder_hidden_states", null, capture) |> ignore)
        use latents = t.Load "latents"
        use sigmaSpace = run latents sigma (fun x -> x / scale)
        use preserving = run (latents / scale) (sigma / scale) (fun x -> x.alias ())
        expectClose 1e-3 1e-4 (preserving * scale) sigmaSpace "x_σ after the update"
        expectClose 1e-3 1e-4 sigmaSpace (t.Load "updated_latents") "the reference's update"
        use ddim = LayoutGuidance.Schedulers.Scheduler.FromPretrained(Fixtures.path [ "tiny-sd21" ])
        ddim.SetTimesteps 10
        for i in 0 .. ddim.StepCount - 1 do
            let s = ddim.Sigma i
            Expect.floatClose Accuracy.high (ddim.SampleNoiseStd i) (s / Math.Sqrt(s * s + 1.0)) $"DDIM step {i}: √(1 − ᾱ)"
        use lms = LayoutGuidance.Schedulers.Scheduler.FromPretrained(Fixtures.path [ "tiny-sd15" ], "LMSDiscrete")
        lms.SetTimesteps 10
        for i in 0 .. lms.StepCount - 1 do
            Expect.equal (lms.SampleNoiseStd i) (lms.Sigma i) $"LMS step {i}: σ"
    }

let private endToEnd =
    test "sd15_e2e: the reference's whole guided generation (every loss, latents after each step, image)" {
        let e2e = guidanceIndex().GetProperty "e2e"
        let config = e2e.GetProperty "config"
        use t = caseTensors [ "cases"; "layout_guidance"; "sd15_e2e.safetensors" ]
        use pipe = load "sd15"
        let layout =
            LayoutRequest(
                Phrases = [| for pos in positionsOf (e2e.GetProperty "object_positions") -> Phrase.At pos |],
                Boxes = [| for b in boxesOf (e2e.GetProperty "bboxes") -> ResizeArray b :> Collections.Generic.IReadOnlyList<_> |],
                Mode = GuidanceMode.Backward,
                Backward = BackwardGuidanceOptions(LossScale = 30.0, MaxIterations = 5, LossThreshold = 0.2,
                                                   Window = StepWindow.First(config.GetProperty("max_index_step").GetInt32())))
        let request =
            GenerationRequest(
                Prompt = e2e.GetProperty("prompt").GetString(),
                Steps = Nullable(config.GetProperty("timesteps").GetInt32()),
                GuidanceScale = Nullable(config.GetProperty("classifier_free_guidance").GetDouble()),
                Height = Nullable 512, Width = Nullable 512,
                Seed = config.GetProperty("rand_seed").GetInt64(),
                SchedulerConfig = ReferenceSettings.Scheduler,
                Layout = layout)
        use afterStep = t.Load "latents_after_step"
        let scale (x: torch.Tensor) = x.abs().max().item<float32>() |> float
        use result =
            pipe.Generate(request, fun p ->
                use expected = afterStep[int64 p.StepIndex].unsqueeze(0)
                expectClose 0.0 (1e-3 * scale expected) p.Latents expected $"latents after step {p.StepIndex}")
        use losses = t.Load "losses"
        let expectedLosses = losses.data<float32>().ToArray()
        let actual = result.Record.Iterations |> Seq.map (fun i -> i.Energy) |> Seq.toArray
        Expect.equal actual.Length expectedLosses.Length "number of guidance iterations (persistent-loss quirk included)"
        Array.iteri2 (fun i a e -> Expect.floatClose { absolute = 1e-5; relative = 1e-4 } a (float e) $"loss {i}") actual expectedLosses
        use final = t.Load "final_latents"
        expectClose 0.0 (1e-3 * scale final) result.Latents final "final latents"
        use image = t.Load "image"
        expectClose 0.0 1e-3 result.Image image "decoded image"
    }

[<Tests>]
let tests =
    testList "pipeline" [
        testList "layout guidance parity with the reference" [
            guidanceIteration "sd15"
            guidanceIteration "sd21"
            guidanceIteration "sdxl"
            variancePreservingIteration
            endToEnd
        ]
        testList "txt2img on every tiny family" [
            for family in [ "sd15"; "sd21"; "sdxl" ] ->
                test $"{family}: generates, guided and unguided, and writes a PNG" {
                    use pipe = load family
                    let layout = LayoutRequest.Parse("hello kitty; ball", [| [| BoundingBox(0.1, 0.2, 0.5, 0.8) |]; [| BoundingBox(0.75, 0.6, 0.95, 0.8) |] |])
                    let request layout = GenerationRequest(Prompt = "A hello kitty toy is playing with a purple ball.", Steps = Nullable 4, Height = Nullable 64, Width = Nullable 64, Seed = 1L, Layout = layout)
                    use guided = pipe.Generate(request layout)
                    Expect.sequenceEqual guided.Image.shape [| 1L; 3L; 64L; 64L |] "image shape"
                    Expect.isGreaterThan guided.Record.TotalIterations 0 "guidance ran"
                    Expect.equal guided.Record.Phrases.Count 2 "one attention summary per phrase"
                    use plain = pipe.Generate(request null)
                    Expect.isFalse (plain.Latents.allclose guided.Latents) "guidance moved the latents"
                    let dir = Fixtures.tempDir ()
                    let file = Path.Combine(dir, "image.png")
                    guided.SaveImage file
                    Expect.sequenceEqual (File.ReadAllBytes(file) |> Array.take 4) [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy |] "PNG signature"
                    let heatmaps = guided.SaveHeatmaps(dir, "heatmap")
                    Expect.equal heatmaps.Count 2 "one heatmap per phrase"
                    for h in heatmaps do Expect.isGreaterThan (FileInfo(h).Length) 100L $"{h} written"
                }
        ]
        test "bfloat16 runs the same pipeline and stays near float32" {
            let request = GenerationRequest(Prompt = "a ball", Steps = Nullable 4, Height = Nullable 64, Width = Nullable 64, Seed = 3L)
            use fp32 = load "sd15"
            use bf16 = StableDiffusionPipeline.Load(Fixtures.path [ "tiny-sd15" ], PipelineOptions(DType = torch.bfloat16))
            Expect.equal (bf16.UNet.parameters () |> Seq.head).dtype torch.bfloat16 "UNet in bfloat16"
            Expect.equal (bf16.Vae.parameters () |> Seq.head).dtype torch.float32 "VAE kept in float32 (force_upcast)"
            use a = fp32.Generate request
            use b = bf16.Generate request
            use diff = (a.Image - b.Image).abs()
            // bfloat16 keeps 8 bits of mantissa: ~0.4% per operation, compounded over 4 steps of a random UNet.
            Expect.isLessThan (diff.mean().item<float32>()) 0.02f "mean |Δpixel| below 2%"
        }
        test "a 50-step run does not grow native memory step over step" {
            use pipe = load "sd15"
            let samples = ResizeArray<int64>()
            use _ = pipe.Generate(GenerationRequest(Prompt = "a ball", Steps = Nullable 50, Height = Nullable 64, Width = Nullable 64), fun p ->
                if p.StepIndex >= 10 then samples.Add(rss ()))
            let growth = samples[samples.Count - 1] - samples[0]
            Expect.isLessThan growth (8L * 1024L * 1024L) $"RSS grew by {growth / 1024L} KiB between step 10 and step 50"
        }
        test "a diverging guidance stops the image with the step and iteration, or skips the update on request" {
            use pipe = load "sd15"
            let layout policy =
                LayoutRequest(Phrases = [| Phrase.Of "ball" |], Boxes = [| [| BoundingBox(0.1, 0.1, 0.5, 0.5) |] |],
                              Backward = BackwardGuidanceOptions(LossScale = 1e300, Window = StepWindow.First 2, Stopping = StoppingRule.PerStep, OnDivergence = policy))
            let request policy = GenerationRequest(Prompt = "a ball", Steps = Nullable 3, Height = Nullable 64, Width = Nullable 64, Layout = layout policy)
            try
                pipe.Generate(request DivergencePolicy.Fail) |> ignore
                failtest "expected a GuidanceDivergedException"
            with :? GuidanceDivergedException as e ->
                Expect.equal e.StepIndex 0 "step"
                Expect.stringContains e.Message "step 0, iteration" "message names the step and iteration"
            use skipped = pipe.Generate(request DivergencePolicy.SkipUpdate)
            Expect.isTrue (skipped.Latents.isfinite().all().item<bool>()) "skipping keeps the latents finite"
            Expect.exists skipped.Record.Iterations (fun i -> not i.Applied) "the diverging update was skipped"
        }
        test "a phrase that is not in the prompt is an error listing the prompt's tokens" {
            use pipe = load "sd15"
            let layout = LayoutRequest.Parse("dragon", [| [| BoundingBox(0.1, 0.1, 0.5, 0.5) |] |])
            try
                pipe.Generate(GenerationRequest(Prompt = "a ball", Steps = Nullable 2, Height = Nullable 64, Width = Nullable 64, Layout = layout)) |> ignore
                failtest "expected a PhraseTokensException"
            with :? PhraseTokensException as e ->
                Expect.stringContains e.Message "dragon" "names the phrase"
                Expect.stringContains e.Message "ball" "lists the prompt's tokens"
        }
    ]
