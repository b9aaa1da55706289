module LayoutGuidance.Tests.GuidanceTests

open System
open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open LayoutGuidance.Native
open LayoutGuidance.Weights
open LayoutGuidance.Guidance

let private caseIndex folder =
    use s = File.OpenRead(Fixtures.path [ "cases"; folder; "index.json" ])
    JsonDocument.Parse(s).RootElement.Clone()

let private strings (e: JsonElement) = [ for x in e.EnumerateArray() -> x.GetString() ]

let private box x0 y0 x1 y1 = BoundingBox(x0, y0, x1, y1)

let private objectsOf (case: JsonElement) =
    let boxes =
        [ for obj in case.GetProperty("bboxes").EnumerateArray() ->
            [ for b in obj.EnumerateArray() -> BoundingBox.FromArray [| for v in b.EnumerateArray() -> v.GetDouble() |] ] ]
    let positions =
        [ for obj in case.GetProperty("object_positions").EnumerateArray() -> [ for p in obj.EnumerateArray() -> p.GetInt32() ] ]
    List.zip boxes positions
    |> List.mapi (fun k (b, p) -> LayoutObject($"object {k}", ResizeArray b, ResizeArray p))
    |> ResizeArray

let private layoutIndex = lazy (caseIndex "layout_guidance")
let private unetIndex = lazy (caseIndex "unet")

/// Every cross-attention path of a fixture UNet, in forward order.
let private unetPaths family =
    let case = unetIndex.Value.GetProperty("cases").EnumerateArray() |> Seq.find (fun c -> c.GetProperty("name").GetString() = $"{family}_unet")
    [ for m in case.GetProperty("attention_maps").EnumerateArray() -> m.GetProperty("key").GetString() ]

let private iterationCase family =
    layoutIndex.Value.GetProperty("iteration_cases").EnumerateArray()
    |> Seq.find (fun c -> c.GetProperty("name").GetString() = $"{family}_guidance_iteration")

let private guidedPaths (case: JsonElement) =
    strings (case.GetProperty "guided_layers_mid") @ strings (case.GetProperty "guided_layers_up")

let private close tol (actual: float) (expected: float) msg =
    Expect.floatClose { absolute = tol; relative = 0.0 } actual expected msg

/// Runs f, which must throw 'E, and returns the exception for inspection.
let private raises<'E when 'E :> exn> (f: unit -> unit) : 'E =
    let thrown = try f (); None with :? 'E as e -> Some e
    match thrown with
    | Some e -> e
    | None -> failtest $"expected {typeof<'E>.Name}, nothing was thrown"

let private value (t: torch.Tensor) = t.to_type(torch.float64).item<float>()

/// Softmax-normalised random maps [rows, cells, tokens], as attention probabilities are.
let private randomMaps seed (shape: int64[]) (dtype: torch.ScalarType) =
    torch.manual_seed seed |> ignore
    torch.randn(shape, dtype = Nullable dtype).softmax(-1)

let private energyTests =
    testList "layout energy" [
        for case in layoutIndex.Value.GetProperty("loss_cases").EnumerateArray() do
            let name = case.GetProperty("name").GetString()
            test $"{name}: equals the reference compute_ca_loss within 1e-5" {
                TorchRuntime.Initialize()
                use f = SafeTensorsFile.Open(Fixtures.path [ "cases"; "layout_guidance"; case.GetProperty("file").GetString() ])
                let maps =
                    [ for j in 0 .. case.GetProperty("num_mid_maps").GetInt32() - 1 -> f.Load $"mid.{j}" ]
                    @ [ for j in 0 .. case.GetProperty("num_up_maps").GetInt32() - 1 -> f.Load $"up.{j}" ]
                // The finest synthetic maps are square; they play the latent the coarser level halves.
                let side = maps |> List.map (fun m -> m.shape.[1]) |> List.max |> float |> sqrt |> int
                use loss = LayoutEnergy.Compute(ResizeArray maps, objectsOf case, side, side)
                close 1e-5 (value loss) (case.GetProperty("loss").GetDouble()) "loss"
                maps |> List.iter (fun m -> m.Dispose())
            }
        for family in [ "sd15"; "sd21"; "sdxl" ] do
            test $"{family}: the energy of the UNet's guided maps is the iteration's loss_unscaled" {
                TorchRuntime.Initialize()
                let case = iterationCase family
                use f = SafeTensorsFile.Open(Fixtures.path [ "cases"; "layout_guidance"; case.GetProperty("file").GetString() ])
                let maps = [ for p in guidedPaths case -> f.Load $"attn.{p}" ]
                use latents = f.Load "latents"
                use loss = LayoutEnergy.Compute(ResizeArray maps, objectsOf case, int latents.shape.[2], int latents.shape.[3])
                use expected = f.Load "loss_unscaled"
                close 1e-5 (value loss) (value expected) "loss_unscaled"
                use scaled = f.Load "loss"
                close 1e-4 (value loss * case.GetProperty("loss_scale").GetDouble()) (value scaled) "loss = η · E"
                maps |> List.iter (fun m -> m.Dispose())
            }
        test "its gradient with respect to the maps agrees with central finite differences" {
            TorchRuntime.Initialize()
            let shape = [| 2L; 4L; 5L |]
            use start = randomMaps 7L shape torch.float64
            let objects =
                ResizeArray [ LayoutObject("left", ResizeArray [ box 0.0 0.0 0.5 1.0 ], ResizeArray [ 1; 3 ])
                              LayoutObject("corner", ResizeArray [ box 0.5 0.5 1.0 1.0; box 0.0 0.0 0.5 0.5 ], ResizeArray [ 2 ]) ]
            // A second, scaled map puts the sum over maps on the path of the gradient too.
            let energy (m: torch.Tensor) = LayoutEnergy.Compute(ResizeArray [ m; m * 2.0 ], objects, 2, 2)
            use m = start.clone().requires_grad_()
            use e = energy m
            let grad = torch.autograd.grad(ResizeArray [ e ], ResizeArray [ m ]).[0]
            let analytic = grad.data<float>().ToArray()
            let baseValues = start.data<float>().ToArray()
            let eps = 1e-6
            let at (i: int) (delta: float) =
                let v = Array.copy baseValues
                v.[i] <- v.[i] + delta
                use t = torch.tensor(v, dtype = torch.float64).reshape(shape)
                use r = energy t
                value r
            for i in 0 .. baseValues.Length - 1 do
                let numeric = (at i eps - at i -eps) / (2.0 * eps)
                close 1e-7 analytic.[i] numeric $"dE/dA at flat index {i}"
            Expect.isTrue (analytic |> Array.exists (fun g -> abs g > 1e-3)) "the check is not vacuous"
        }
        test "an object whose box covers no cell adds a constant 1 per map and is reported" {
            TorchRuntime.Initialize()
            use maps = randomMaps 3L [| 1L; 4L; 6L |] torch.float32
            let tiny = LayoutObject("speck", ResizeArray [ box 0.1 0.1 0.3 0.3 ], ResizeArray [ 2 ])
            use e = LayoutEnergy.Compute(ResizeArray [ maps ], ResizeArray [ tiny ], 2, 2)
            close 1e-6 (value e) 1.0 "(1 - 0)^2"
            let uncovered = LayoutEnergy.Uncovered(ResizeArray [ tiny ], [ MapGrid(2, 2); MapGrid(8, 8); MapGrid(2, 2) ])
            Expect.equal (List.ofSeq uncovered) [ UncoveredObject("speck", MapGrid(2, 2)) ] "only the 2×2 grid is too coarse"
            Expect.stringContains (uncovered.[0].ToString()) "speck" "the warning names the phrase"
        }
        test "with no objects it is zero, as in the reference" {
            TorchRuntime.Initialize()
            use maps = randomMaps 3L [| 1L; 4L; 6L |] torch.float32
            use e = LayoutEnergy.Compute(ResizeArray [ maps ], ResizeArray<LayoutObject>(), 2, 2)
            Expect.equal (value e) 0.0 "zero"
        }
        test "a token position beyond the maps' tokens is a LayoutException naming the phrase" {
            TorchRuntime.Initialize()
            use maps = randomMaps 3L [| 1L; 4L; 6L |] torch.float32
            let o = LayoutObject("ball", ResizeArray [ box 0.0 0.0 1.0 1.0 ], ResizeArray [ 6 ])
            let e = raises<LayoutException> (fun () -> LayoutEnergy.Compute(ResizeArray [ maps ], ResizeArray [ o ], 2, 2) |> ignore)
            Expect.equal e.Phrase "ball" "phrase"
        }
    ]

let private mapGridTests =
    testList "map grid" [
        test "levels are the latent halved with rounding up, also for non-square and odd latents" {
            Expect.equal (MapGrid.Infer(96L * 64L, 96, 64)) (MapGrid(96, 64)) "level 0"
            Expect.equal (MapGrid.Infer(24L * 16L, 96, 64)) (MapGrid(24, 16)) "level 2"
            Expect.equal (MapGrid.Infer(4L * 3L, 13, 9)) (MapGrid(4, 3)) "13×9 → 7×5 → 4×3"
            Expect.throwsT<ArgumentException> (fun () -> MapGrid.Infer(10L, 13, 9) |> ignore) "10 cells is no level"
        }
        test "a box is rasterised as mask[int(y0·H):int(y1·H), int(x0·W):int(x1·W)]" {
            TorchRuntime.Initialize()
            use m = MapGrid(8, 4).Mask([ box 0.1 0.2 0.5 0.8 ], torch.float32, torch.CPU)
            let cells = m.data<float32>().ToArray()
            // rows int(1.6)=1 .. int(6.4)=6 (exclusive), cols int(0.4)=0 .. int(2.0)=2 (exclusive)
            let expected = [| for r in 0 .. 7 do for c in 0 .. 3 -> if r >= 1 && r < 6 && c < 2 then 1.0f else 0.0f |]
            Expect.equal cells expected "mask"
        }
    ]

let private layerTests =
    let resolve (spec: string) family = List.ofSeq (LayerSelection.Parse(spec).Resolve(ResizeArray (unetPaths family)))
    testList "layer selection" [
        for family in [ "sd15"; "sd21"; "sdxl" ] do
            test $"{family}: the family default gives exactly the reference's guided layers" {
                let chosen = LayerSelection.ForFamily(family).Resolve(ResizeArray (unetPaths family))
                Expect.equal (List.ofSeq chosen) (guidedPaths (iterationCase family)) "guided paths"
            }
        test "patterns combine with '+', keep forward order and match on '.' boundaries" {
            Expect.equal (resolve "up_blocks.1+mid" "sd15")
                [ "mid_block.attentions.0.transformer_blocks.0.attn2"
                  "up_blocks.1.attentions.0.transformer_blocks.0.attn2"
                  "up_blocks.1.attentions.1.transformer_blocks.0.attn2"
                  "up_blocks.1.attentions.2.transformer_blocks.0.attn2" ] "forward order"
            let paths = ResizeArray [ "up_blocks.1.attentions.0.transformer_blocks.0.attn2"; "up_blocks.10.attentions.0.transformer_blocks.0.attn2" ]
            Expect.equal (List.ofSeq (LayerSelection.Parse("up.1").Resolve paths)) [ paths.[0] ] "up.1 is not up_blocks.10"
        }
        test "'down' and 'up' select every attention of those blocks" {
            Expect.equal (resolve "down" "sd21") (unetPaths "sd21" |> List.filter (fun p -> p.StartsWith "down_blocks.")) "down"
            Expect.equal (resolve "up" "sd15" |> List.length) 9 "three up blocks of three attentions"
        }
        test "by default only each attention's last transformer block; '@all' takes every block" {
            Expect.equal (resolve "mid" "sdxl") [ "mid_block.attentions.0.transformer_blocks.1.attn2" ] "last"
            Expect.equal (resolve "mid@all" "sdxl")
                [ "mid_block.attentions.0.transformer_blocks.0.attn2"; "mid_block.attentions.0.transformer_blocks.1.attn2" ] "all"
            Expect.equal (resolve "down" "sdxl")
                [ "down_blocks.1.attentions.0.transformer_blocks.0.attn2"; "down_blocks.2.attentions.0.transformer_blocks.1.attn2" ] "last per attention"
        }
        test "a full attn2 path selects that layer even when it is not the last block" {
            Expect.equal (resolve "mid_block.attentions.0.transformer_blocks.0.attn2+up_blocks.1" "sdxl")
                [ "mid_block.attentions.0.transformer_blocks.0.attn2"
                  "up_blocks.1.attentions.0.transformer_blocks.0.attn2"
                  "up_blocks.1.attentions.1.transformer_blocks.0.attn2" ] "explicit block"
        }
        test "a pattern that matches nothing is an error listing the available layers" {
            let e = raises<LayerSelectionException> (fun () -> resolve "mid+up_blocks.3" "sdxl" |> ignore)
            Expect.stringContains e.Message "up_blocks.3" "names the pattern"
            Expect.stringContains e.Message "up_blocks.0.attentions.1.transformer_blocks.1.attn2" "lists what exists"
            Expect.equal (List.ofSeq e.Available) (unetPaths "sdxl") "available paths"
        }
        test "malformed specs are errors" {
            Expect.throwsT<LayerSelectionException> (fun () -> LayerSelection.Parse "mid++up" |> ignore) "empty pattern"
            Expect.throwsT<LayerSelectionException> (fun () -> LayerSelection.Parse "up_blocks..1" |> ignore) "empty segment"
            Expect.throwsT<LayerSelectionException> (fun () -> LayerSelection.Parse "mid@some" |> ignore) "unknown block choice"
            Expect.throwsT<ArgumentException> (fun () -> LayerSelection.ForFamily "sd3" |> ignore) "unknown family"
        }
        test "the string form round-trips and equal selections are equal" {
            let s = LayerSelection.Parse "mid + up.1 @all"
            Expect.equal (s.ToString()) "mid_block+up_blocks.1@all" "normalised form"
            Expect.equal (LayerSelection.Parse(s.ToString())) s "round trip"
            Expect.equal (LayerSelection.Parse "mid+up_blocks.1") LayerSelection.StableDiffusion "value equality"
        }
    ]

let private layoutTests =
    let boxes (bs: BoundingBox list list) = ResizeArray(bs |> List.map (fun b -> ResizeArray b :> Collections.Generic.IReadOnlyList<_>))
    let kitty = [ box 0.1 0.2 0.5 0.8 ]
    let ball = [ box 0.75 0.6 0.95 0.8 ]
    let fails phrase boxIndex (text: string) (f: unit -> unit) =
        let e = raises<LayoutException> f
        Expect.equal (Option.ofObj e.Phrase) phrase "phrase named"
        Expect.equal (Option.ofNullable e.BoxIndex) boxIndex "box named"
        Expect.stringContains e.Message text "message"
    testList "layout" [
        test "the reference's string form splits on ';' and trims" {
            let layout = Layout.Parse("hello kitty; ball", boxes [ kitty; ball ])
            Expect.equal (List.ofSeq layout.Phrases) [ "hello kitty"; "ball" ] "phrases"
            let objects = layout.WithTokenPositions(ResizeArray [ ResizeArray [ 2; 3 ] :> Collections.Generic.IReadOnlyList<_>; ResizeArray [ 10 ] ])
            Expect.equal (List.ofSeq objects.[0].TokenPositions) [ 2; 3 ] "positions"
            Expect.equal objects.[1].Boxes.[0] ball.[0] "boxes"
        }
        test "several boxes per phrase are one object" {
            let layout = Layout.Parse("cat", boxes [ [ box 0.0 0.0 0.5 0.5; box 0.5 0.5 1.0 1.0 ] ])
            Expect.equal layout.Boxes.[0].Count 2 "two boxes"
        }
        test "inverted, out-of-range and NaN boxes name their phrase and box" {
            fails (Some "ball") (Some 1) "x0 >= x1" (fun () -> Layout.Parse("hello kitty; ball", boxes [ kitty; [ box 0.1 0.1 0.2 0.2; box 0.9 0.1 0.2 0.5 ] ]) |> ignore)
            fails (Some "ball") (Some 0) "y0 >= y1" (fun () -> Layout.Parse("ball", boxes [ [ box 0.1 0.5 0.2 0.5 ] ]) |> ignore)
            fails (Some "ball") (Some 0) "[0, 1]" (fun () -> Layout.Parse("ball", boxes [ [ box -0.1 0.5 0.2 0.7 ] ]) |> ignore)
            fails (Some "ball") (Some 0) "[0, 1]" (fun () -> Layout.Parse("ball", boxes [ [ box 0.1 0.5 0.2 1.5 ] ]) |> ignore)
            fails (Some "ball") (Some 0) "NaN" (fun () -> Layout.Parse("ball", boxes [ [ box nan 0.5 0.2 0.7 ] ]) |> ignore)
        }
        test "a phrase without a box and a box without a phrase are errors" {
            fails (Some "ball") None "has no box" (fun () -> Layout.Parse("hello kitty; ball", boxes [ kitty ]) |> ignore)
            fails (Some "ball") None "has no box" (fun () -> Layout.Parse("hello kitty; ball", boxes [ kitty; [] ]) |> ignore)
            fails None (Some 1) "has no phrase" (fun () -> Layout.Parse("hello kitty", boxes [ kitty; ball ]) |> ignore)
            fails None None "empty" (fun () -> Layout.Parse("hello kitty; ", boxes [ kitty; ball ]) |> ignore)
        }
        test "boxes from lists need four numbers; objects need token positions after <|startoftext|>" {
            fails None None "4 numbers" (fun () -> BoundingBox.FromArray [| 0.1; 0.2; 0.3 |] |> ignore)
            fails (Some "ball") None "no token positions" (fun () -> LayoutObject("ball", ResizeArray ball, ResizeArray []) |> ignore)
            fails (Some "ball") None "position 0" (fun () -> LayoutObject("ball", ResizeArray ball, ResizeArray [ 0 ]) |> ignore)
            fails None None "2 token-position lists for 1 phrases" (fun () ->
                Layout.Parse("ball", boxes [ ball ]).WithTokenPositions(ResizeArray [ ResizeArray [ 1 ] :> Collections.Generic.IReadOnlyList<_>; ResizeArray [ 2 ] ]) |> ignore)
        }
    ]

let private optionsTests =
    let names (e: GuidanceOptionsException) = e.Option
    testList "options" [
        test "backward guidance defaults are the reference's" {
            let o = BackwardGuidanceOptions()
            Expect.equal (o.LossScale, o.MaxIterations, o.LossThreshold, o.Window) (30.0, 5, 0.2, StepWindow(0, 10)) "η, iterations, threshold, window"
            Expect.equal (o.Stopping, o.OnDivergence, o.Layers) (StoppingRule.PaperFaithful, DivergencePolicy.Fail, null) "rules"
        }
        test "out-of-range values are errors naming the option" {
            Expect.equal (names (raises<GuidanceOptionsException> (fun () -> BackwardGuidanceOptions(LossScale = 0.0) |> ignore))) "LossScale" "η > 0"
            Expect.equal (names (raises<GuidanceOptionsException> (fun () -> BackwardGuidanceOptions(LossScale = nan) |> ignore))) "LossScale" "η finite"
            Expect.equal (names (raises<GuidanceOptionsException> (fun () -> BackwardGuidanceOptions(MaxIterations = 0) |> ignore))) "MaxIterations" "≥ 1"
            Expect.equal (names (raises<GuidanceOptionsException> (fun () -> BackwardGuidanceOptions(LossThreshold = -0.1) |> ignore))) "LossThreshold" "≥ 0"
            Expect.equal (names (raises<GuidanceOptionsException> (fun () -> StepWindow(5, 2) |> ignore))) "Window.End" "end ≥ start"
            Expect.equal (names (raises<GuidanceOptionsException> (fun () -> StepWindow(-1, 2) |> ignore))) "Window.Start" "start ≥ 0"
            Expect.equal (names (raises<GuidanceOptionsException> (fun () -> ForwardGuidanceOptions(Strength = 1.5) |> ignore))) "Strength" "λ ≤ 1"
            Expect.equal (names (raises<GuidanceOptionsException> (fun () -> ForwardGuidanceOptions(Strength = 0.5, SmoothingSigma = -1.0) |> ignore))) "SmoothingSigma" "σ ≥ 0"
        }
        test "options are values: with-copies compare by content" {
            let o = BackwardGuidanceOptions(Layers = LayerSelection.Parse "mid")
            Expect.notEqual (BackwardGuidanceOptions(LossScale = 10.0)) (BackwardGuidanceOptions()) "η differs"
            Expect.equal (BackwardGuidanceOptions(Layers = LayerSelection.Parse "mid")) o "same content"
        }
    ]

/// Runs the schedule over a generation whose iterations report `losses` in order; returns the (step, iteration) pairs run.
let private replay (schedule: BackwardGuidanceSchedule) steps (losses: float list) =
    let mutable remaining = losses
    [ for step in 0 .. steps - 1 do
        let mutable it = 0
        while schedule.ShouldIterate(step, it) do
            let loss = List.head remaining
            remaining <- List.tail remaining
            schedule.Record(step, it, loss) |> ignore
            yield step, it
            it <- it + 1 ]

let private scheduleTests =
    testList "backward guidance schedule" [
        test "replays the reference generation's iterations exactly" {
            let e2e = layoutIndex.Value.GetProperty "e2e"
            let config = e2e.GetProperty "config"
            let options =
                BackwardGuidanceOptions(
                    LossScale = config.GetProperty("loss_scale").GetDouble(),
                    MaxIterations = config.GetProperty("max_iter").GetInt32(),
                    LossThreshold = config.GetProperty("loss_threshold").GetDouble(),
                    Window = StepWindow.First(config.GetProperty("max_index_step").GetInt32()))
            let log = [ for e in e2e.GetProperty("loss_log").EnumerateArray() -> e.GetProperty("step_index").GetInt32(), e.GetProperty("iteration").GetInt32(), e.GetProperty("loss_unscaled").GetDouble() ]
            let ran = replay (BackwardGuidanceSchedule options) (config.GetProperty("timesteps").GetInt32()) [ for _, _, l in log -> l ]
            Expect.equal ran [ for s, i, _ in log -> s, i ] "iterations"
        }
        test "paper-faithful: once a loss reaches the threshold, no later step is guided" {
            let o = BackwardGuidanceOptions(MaxIterations = 3, Window = StepWindow.First 4)
            let ran = replay (BackwardGuidanceSchedule o) 6 [ 0.5; 0.1; 0.9; 0.9 ]
            Expect.equal ran [ 0, 0; 0, 1 ] "step 0 stops after its second loss, and so does everything after"
        }
        test "paper-faithful: a step's first test uses the previous step's last loss" {
            let o = BackwardGuidanceOptions(MaxIterations = 2, Window = StepWindow.First 3)
            let ran = replay (BackwardGuidanceSchedule o) 3 [ 0.5; 0.5; 0.5; 0.15; 0.9 ]
            Expect.equal ran [ 0, 0; 0, 1; 1, 0; 1, 1 ] "step 1 ended at 0.15, so step 2 never starts"
        }
        test "per-step: every step in the window starts afresh" {
            let o = BackwardGuidanceOptions(MaxIterations = 3, Window = StepWindow(1, 3), Stopping = StoppingRule.PerStep)
            let ran = replay (BackwardGuidanceSchedule o) 5 [ 0.1; 0.5; 0.3; 0.1 ]
            Expect.equal ran [ 1, 0; 2, 0; 2, 1; 2, 2 ] "window [1,3), step 1 stops at once, step 2 runs out of iterations"
        }
        test "divergence fails by default, or skips the update and ends only that step" {
            let failing = BackwardGuidanceSchedule(BackwardGuidanceOptions())
            Expect.isTrue (failing.ShouldIterate(0, 0)) "runs"
            let e = raises<GuidanceDivergedException> (fun () -> failing.Record(0, 0, nan) |> ignore)
            Expect.equal (e.StepIndex, e.Iteration) (0, 0) "names where"
            let skipping = BackwardGuidanceSchedule(BackwardGuidanceOptions(OnDivergence = DivergencePolicy.SkipUpdate))
            Expect.isFalse (skipping.Record(0, 0, 0.7, gradientFinite = false)) "update skipped"
            Expect.isFalse (skipping.ShouldIterate(0, 1)) "step 0 over"
            Expect.isTrue (skipping.ShouldIterate(1, 0)) "step 1 still guided: the NaN did not stop guidance"
        }
    ]

let private forwardTests =
    let grid = MapGrid(4, 4)
    let objects =
        ResizeArray [ LayoutObject("kitty", ResizeArray [ box 0.0 0.0 0.5 0.5 ], ResizeArray [ 1; 2 ])
                      LayoutObject("ball", ResizeArray [ box 0.5 0.5 1.0 1.0 ], ResizeArray [ 4 ]) ]
    let inBox (t: torch.Tensor) (b: BoundingBox) position =
        use m = grid.Mask([ b ], torch.float32, torch.CPU)
        use column = t.select(2, int64 position)
        use inside = (column * m).sum(1)
        use total = column.sum(1)
        (inside / total).mean() |> value
    testList "forward guidance" [
        test "moves each phrase token's attention into its box and keeps its total mass" {
            TorchRuntime.Initialize()
            use probs = randomMaps 11L [| 4L; 16L; 6L |] torch.float32
            use edited = ForwardGuidance.Edit(probs, objects, 4, 4, 0.6)
            for o in objects do
                for p in o.TokenPositions do
                    Expect.isGreaterThan (inBox edited o.Boxes.[0] p) (inBox probs o.Boxes.[0] p + 0.3) $"'{o.Phrase}' token {p} moved in"
                    use before = probs.select(2, int64 p).sum(1)
                    use after = edited.select(2, int64 p).sum(1)
                    Expect.isTrue (after.allclose(before, rtol = 1e-5, atol = 1e-6)) "Σ_u A[r,u,i] unchanged"
            for p in [ 0; 3; 5 ] do
                use before = probs.select(2, int64 p)
                use after = edited.select(2, int64 p)
                Expect.isTrue (after.Equals before) $"token {p} untouched"
        }
        test "does not renormalise over tokens: rows sum to 1 only where no mass moved" {
            TorchRuntime.Initialize()
            use probs = randomMaps 12L [| 2L; 16L; 6L |] torch.float32
            use edited = ForwardGuidance.Edit(probs, objects, 4, 4, 0.5)
            use rowSums = edited.sum(2)
            Expect.isGreaterThan ((rowSums - 1.0).abs().max() |> value) 1e-3 "rows over tokens changed"
            use total = edited.sum()
            close 1e-3 (value total) (float (2 * 16)) "total mass over rows, cells and tokens kept"
        }
        test "λ = 0 is the identity and λ = 1 puts all of a token's mass in its box" {
            TorchRuntime.Initialize()
            use probs = randomMaps 13L [| 2L; 16L; 6L |] torch.float32
            use same = ForwardGuidance.Edit(probs, objects, 4, 4, 0.0)
            Expect.isTrue (same.allclose(probs, rtol = 0.0, atol = 1e-7)) "identity"
            use full = ForwardGuidance.Edit(probs, objects, 4, 4, 1.0)
            close 1e-6 (inBox full objects.[1].Boxes.[0] 4) 1.0 "all inside"
        }
        test "Gaussian smoothing spills a little mass outside the box but keeps most inside" {
            TorchRuntime.Initialize()
            use probs = randomMaps 14L [| 2L; 16L; 6L |] torch.float32
            use soft = ForwardGuidance.Edit(probs, objects, 4, 4, 1.0, smoothingSigma = 0.1)
            let r = inBox soft objects.[1].Boxes.[0] 4
            Expect.isLessThan r 0.999 "some mass outside"
            Expect.isGreaterThan r 0.6 "most mass inside"
        }
        test "only the given rows are edited (the conditional half of a CFG batch)" {
            TorchRuntime.Initialize()
            use probs = randomMaps 15L [| 4L; 16L; 6L |] torch.float32
            use edited = ForwardGuidance.Edit(probs, objects, 4, 4, 0.8, rows = Range.StartAt(Index 2))
            use keptBefore = probs.narrow(0, 0L, 2L)
            use keptAfter = edited.narrow(0, 0L, 2L)
            Expect.isTrue (keptAfter.Equals keptBefore) "unconditional rows untouched"
            use changedBefore = probs.narrow(0, 2L, 2L)
            use changedAfter = edited.narrow(0, 2L, 2L)
            Expect.isFalse (changedAfter.allclose(changedBefore)) "conditional rows edited"
        }
        test "a box too small for the grid targets the cell under its centre" {
            TorchRuntime.Initialize()
            use probs = randomMaps 16L [| 1L; 16L; 6L |] torch.float32
            let speck = ResizeArray [ LayoutObject("speck", ResizeArray [ box 0.55 0.3 0.6 0.35 ], ResizeArray [ 3 ]) ]
            use edited = ForwardGuidance.Edit(probs, speck, 4, 4, 1.0)
            // centre (0.575, 0.325) → row int(1.3)=1, col int(2.3)=2
            use column = edited.select(2, 3L).select(0, 0L)
            use total = column.sum()
            close 1e-5 (column.[6L] |> value) (value total) "all of it in cell (1, 2)"
        }
        test "a token shared by two phrases is a LayoutException" {
            TorchRuntime.Initialize()
            use probs = randomMaps 17L [| 1L; 16L; 6L |] torch.float32
            let clash = ResizeArray [ LayoutObject("a", ResizeArray [ box 0.0 0.0 0.5 0.5 ], ResizeArray [ 1 ]); LayoutObject("b", ResizeArray [ box 0.5 0.5 1.0 1.0 ], ResizeArray [ 1 ]) ]
            Expect.throwsT<LayoutException> (fun () -> ForwardGuidance.Edit(probs, clash, 4, 4, 0.5) |> ignore) "shared token"
        }
    ]

let private ratioTests =
    testList "attention in box" [
        test "the heatmap is a distribution, each map weighted equally whatever its level" {
            TorchRuntime.Initialize()
            let o = LayoutObject("cat", ResizeArray [ box 0.0 0.0 0.5 0.5 ], ResizeArray [ 1 ])
            // Level 1 (2×2): all of token 1 in the top-left cell; level 0 (4×4): spread evenly.
            use coarse = torch.zeros([| 2L; 4L; 3L |])
            coarse.index_put_(torch.tensor(1.0f), [| torch.TensorIndex.Colon; torch.TensorIndex.Single 0L; torch.TensorIndex.Single 1L |]) |> ignore
            use fine = torch.ones([| 2L; 16L; 3L |]) * 0.25
            use heat = PhraseAttention.Heatmap([ coarse; fine ], o, 4, 4, MapGrid(4, 4))
            Expect.equal heat.shape [| 4L; 4L |] "shape"
            close 1e-6 (value (heat.sum())) 1.0 "sums to 1"
            // coarse: its 1 cell → 4 fine cells of 1/4 each; fine: 1/16 everywhere; average → (1/4 + 1/16)/2 per top-left cell.
            close 1e-6 (value heat.[0L, 0L]) ((0.25 + 0.0625) / 2.0) "top-left"
            close 1e-6 (PhraseAttention.InBoxRatio(heat, o.Boxes)) ((1.0 + 0.25) / 2.0) "ratio in box"
            close 1e-6 (PhraseAttention.InBoxRatio([ coarse; fine ], o, 4, 4)) 0.625 "maps to ratio in one call"
        }
        test "attention entirely inside the box has ratio 1, entirely outside 0" {
            TorchRuntime.Initialize()
            use probs = randomMaps 21L [| 2L; 16L; 4L |] torch.float32
            let o = LayoutObject("dog", ResizeArray [ box 0.5 0.0 1.0 1.0 ], ResizeArray [ 2 ])
            use inside = ForwardGuidance.Edit(probs, ResizeArray [ o ], 4, 4, 1.0)
            close 1e-6 (PhraseAttention.InBoxRatio([ inside ], o, 4, 4)) 1.0 "inside"
            let elsewhere = LayoutObject("dog", ResizeArray [ box 0.0 0.0 0.5 1.0 ], ResizeArray [ 2 ])
            close 1e-6 (PhraseAttention.InBoxRatio([ inside ], elsewhere, 4, 4)) 0.0 "outside"
        }
        test "an output grid coarser than a map is refused" {
            TorchRuntime.Initialize()
            use probs = randomMaps 22L [| 2L; 16L; 4L |] torch.float32
            let o = LayoutObject("dog", ResizeArray [ box 0.5 0.0 1.0 1.0 ], ResizeArray [ 2 ])
            Expect.throwsT<ArgumentException> (fun () -> PhraseAttention.Heatmap([ probs ], o, 4, 4, MapGrid(2, 2)) |> ignore) "coarser"
        }
    ]

[<Tests>]
let tests =
    testList "guidance" [ energyTests; mapGridTests; layerTests; layoutTests; optionsTests; scheduleTests; forwardTests; ratioTests ]
