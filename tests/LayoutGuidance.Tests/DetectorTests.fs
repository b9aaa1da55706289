module LayoutGuidance.Tests.DetectorTests

open System
open Expecto
open LayoutGuidance.Toy
open LayoutGuidance.Evaluation

let private size = ShapesDataset.ImageSize

/// What a small diffusion model does to an image, roughly: Gaussian blur (σ in pixels), Gaussian
/// noise (σ in [0,1] units), and a colour shift (per-channel gain 1 ± shift and offset ± shift/2).
let private degrade (seed: uint64) (blur: float) (noise: float) (shift: float) (rgb: byte[]) =
    let rng = SplitMix64 seed
    let radius = int (ceil (3.0 * blur))
    let kernel = Array.init (2 * radius + 1) (fun i -> let d = float (i - radius) in exp (-(d * d) / (2.0 * blur * blur)))
    let kernel = kernel |> Array.map (fun k -> k / Array.sum kernel)
    let pass (source: float[]) dx dy =
        Array.init source.Length (fun idx ->
            let p, c = idx / 3, idx % 3
            let x, y = p % size, p / size
            let mutable acc = 0.0
            for i in -radius .. radius do
                let sx, sy = Math.Clamp(x + i * dx, 0, size - 1), Math.Clamp(y + i * dy, 0, size - 1)
                acc <- acc + kernel.[i + radius] * source.[(sy * size + sx) * 3 + c]
            acc)
    let image = rgb |> Array.map (fun b -> float b / 255.0)
    let blurred = if blur > 0.0 then pass (pass image 1 0) 0 1 else image
    let gain = Array.init 3 (fun _ -> 1.0 + shift * rng.NextDouble(-1.0, 1.0))
    let offset = Array.init 3 (fun _ -> 0.5 * shift * rng.NextDouble(-1.0, 1.0))
    // Irwin–Hall: the sum of four uniforms, scaled to unit variance, is close enough to Gaussian here.
    let gaussian () = (rng.NextDouble() + rng.NextDouble() + rng.NextDouble() + rng.NextDouble() - 2.0) * sqrt 3.0
    blurred |> Array.mapi (fun i v ->
        let v = v * gain.[i % 3] + offset.[i % 3] + noise * gaussian ()
        byte (Math.Clamp(int (v * 255.0 + 0.5), 0, 255)))

/// Matches ground truth to detections one-to-one (same colour and shape, IoU ≥ 0.7): (found, objects, detections).
let private score (images: (ShapeSample * byte[]) seq) =
    let detector = ShapeDetector()
    images |> Seq.fold (fun (found, objects, detected) (s: ShapeSample, rgb) ->
        let detections = detector.Detect(ReadOnlySpan rgb, size, size)
        let used = Collections.Generic.HashSet<int>()
        let hits =
            s.Objects |> Seq.sumBy (fun o ->
                detections
                |> Seq.indexed
                |> Seq.filter (fun (i, d) -> not (used.Contains i) && d.Color = o.Color && d.Shape = o.Shape && d.Box.Iou o.Box >= 0.7)
                |> Seq.tryHead
                |> function Some (i, _) -> used.Add i |> ignore; 1 | None -> 0)
        found + hits, objects + s.Objects.Count, detected + detections.Count) (0, 0, 0)

let private report name (found, objects, detected) =
    let recall, precision = float found / float objects, float found / float detected
    printfn $"shape detector, {name}: recall {recall:P2} ({found}/{objects}), precision {precision:P2} ({found}/{detected})"
    recall, precision

/// Fills a pixel rectangle [x0, x1) × [y0, y1) with a colour.
let private fill (rgb: byte[]) (x0, y0, x1, y1) (r: byte, g: byte, b: byte) =
    for y in y0 .. y1 - 1 do
        for x in x0 .. x1 - 1 do
            let i = (y * size + x) * 3
            rgb.[i] <- r; rgb.[i + 1] <- g; rgb.[i + 2] <- b

let private gray () = Array.create (size * size * 3) 128uy
let private box x0 y0 x1 y1 = Box.FromPixels(x0, y0, x1, y1, size, size)
let private det color shape b = Detection(color, shape, b, 100, 1.0)
let private req color shape b = RequestedObject(color, shape, b)

[<Tests>]
let tests =
    testList "detector" [
        testList "shape detector" [
            test "finds at least 98% of the objects of 500 generated images with IoU >= 0.7" {
                let images = ShapesDataset.GenerateBatch(1_000_000UL, 500) |> Seq.map (fun s -> s, s.Rgb)
                let recall, precision = report "clean (500 images)" (score images)
                Expect.isGreaterThanOrEqual recall 0.98 "recall"
                Expect.isGreaterThanOrEqual precision 0.98 "precision"
            }
            test "stays reliable on blurred, noisy, colour-shifted images" {
                let images =
                    ShapesDataset.GenerateBatch(2_000_000UL, 500)
                    |> Seq.map (fun s -> s, degrade (s.Seed + 1UL) 1.0 0.03 0.06 s.Rgb)
                let recall, precision = report "degraded, blur σ=1 px, noise σ=0.03, colour shift 6% (500 images)" (score images)
                Expect.isGreaterThanOrEqual recall 0.97 "recall"
                Expect.isGreaterThanOrEqual precision 0.97 "precision"
            }
            test "finds nothing on a noisy grey background" {
                let image = degrade 3UL 0.0 0.03 0.06 (gray ())
                Expect.isEmpty (ShapeDetector().Detect(ReadOnlySpan image, size, size)) "detections"
            }
            test "two touching squares of different colours are two objects, their blended seam none" {
                let image = gray ()
                fill image (10, 20, 30, 40) (220uy, 30uy, 30uy)
                fill image (31, 20, 51, 40) (30uy, 200uy, 30uy)
                // The shared column is half red, half green: a yellow-ish seam one pixel wide.
                fill image (30, 20, 31, 40) (125uy, 115uy, 30uy)
                let found = ShapeDetector().Detect(ReadOnlySpan image, size, size) |> Seq.map (fun d -> d.Phrase, d.Box) |> Seq.toList
                Expect.equal (found |> List.map fst |> List.sort) [ "green square"; "red square" ] "objects"
                let redBox = found |> List.find (fun (p, _) -> p = "red square") |> snd
                Expect.isGreaterThan (redBox.Iou(box 10.0 20.0 30.5 40.0)) 0.9 $"red box {redBox}"
            }
            test "rejects an image whose size does not match its bytes" {
                Expect.throwsT<ArgumentException> (fun () -> ShapeDetector().Detect(ReadOnlySpan(Array.zeroCreate<byte> 100), 64, 64) |> ignore) "wrong length"
            }
        ]
        testList "layout metrics" [
            let left, right = box 4.0 20.0 24.0 40.0, box 40.0 20.0 60.0 40.0
            let pair = [ req ShapeColor.Red ShapeKind.Circle left; req ShapeColor.Blue ShapeKind.Square right ]
            test "objects where the layout asks are found, on target, in the right relation" {
                let score = LayoutMetrics.Score(pair, [ det ShapeColor.Red ShapeKind.Circle left; det ShapeColor.Blue ShapeKind.Square right ])
                for o in score.Objects do
                    Expect.isTrue (o.Found && o.ColorFound && o.IouSuccess && o.CenterInBox) o.Requested.Phrase
                    Expect.floatClose Accuracy.high o.Iou 1.0 "IoU"
                Expect.equal [ for p in score.Pairs -> p.First, p.Second, p.Relation, p.Correct ] [ 0, 1, SpatialRelation.LeftOf, true ] "pair"
                Expect.isEmpty score.Unrequested "unrequested"
                Expect.isTrue score.AllFound "all found"
            }
            test "a pair with swapped positions is found but fails the boxes and the relation" {
                let score = LayoutMetrics.Score(pair, [ det ShapeColor.Red ShapeKind.Circle right; det ShapeColor.Blue ShapeKind.Square left ])
                for o in score.Objects do
                    Expect.isTrue o.Found o.Requested.Phrase
                    Expect.equal o.Iou 0.0 "IoU"
                    Expect.isFalse (o.IouSuccess || o.CenterInBox || o.ColorCentered) "success"
                let p = Seq.exactlyOne score.Pairs
                Expect.isTrue p.BothFound "both found"
                Expect.isFalse p.Correct "relation"
            }
            test "a wrong shape in the right colour counts as colour found only, and as unrequested when nobody asked for that shape" {
                let score = LayoutMetrics.Score(pair, [ det ShapeColor.Red ShapeKind.Triangle left; det ShapeColor.Blue ShapeKind.Square right ])
                let red = score.Objects.[0]
                Expect.isFalse red.Found "red circle missing"
                Expect.isTrue red.ColorFound "red is there"
                Expect.isTrue red.ColorCentered "and centred in the red circle's box: placement holds apart from the shape"
                Expect.isFalse red.IouSuccess "no IoU success without the object"
                Expect.equal [ for d in score.Unrequested -> d.Phrase ] [ "red triangle" ] "unrequested"
                let p = Seq.exactlyOne score.Pairs
                Expect.isFalse (p.BothFound || p.Correct) "a missing object fails its pair"
            }
            test "a detection of requested colour and shape words in a new combination is not unrequested" {
                let score = LayoutMetrics.Score(pair, [ det ShapeColor.Red ShapeKind.Square left; det ShapeColor.Green ShapeKind.Circle right ])
                Expect.equal [ for d in score.Unrequested -> d.Phrase ] [ "green circle" ] "only the green object is unrequested"
            }
            test "one detection cannot serve two identical requests" {
                let twice = [ req ShapeColor.Red ShapeKind.Circle left; req ShapeColor.Red ShapeKind.Circle right ]
                let score = LayoutMetrics.Score(twice, [ det ShapeColor.Red ShapeKind.Circle right ])
                Expect.equal [ for o in score.Objects -> o.Found ] [ false; true ] "matched to the request it overlaps"
            }
            test "the centre criterion accepts a small object centred in a large target that IoU rejects" {
                let target = box 8.0 8.0 56.0 56.0
                let score = LayoutMetrics.Score([ req ShapeColor.Green ShapeKind.Cross target ], [ det ShapeColor.Green ShapeKind.Cross (box 24.0 24.0 40.0 40.0) ])
                let o = score.Objects.[0]
                Expect.isTrue (o.CenterInBox && not o.IouSuccess) $"IoU {o.Iou}"
            }
            test "relations follow the axis where the centres differ most" {
                let at x y = box x y (x + 10.0) (y + 10.0)
                Expect.equal (LayoutMetrics.Relation(at 0.0 20.0, at 30.0 25.0)) (Nullable SpatialRelation.LeftOf) "left"
                Expect.equal (LayoutMetrics.Relation(at 30.0 20.0, at 0.0 25.0)) (Nullable SpatialRelation.RightOf) "right"
                Expect.equal (LayoutMetrics.Relation(at 20.0 0.0, at 25.0 30.0)) (Nullable SpatialRelation.Above) "above"
                Expect.equal (LayoutMetrics.Relation(at 20.0 30.0, at 25.0 0.0)) (Nullable SpatialRelation.Below) "below"
                Expect.equal (LayoutMetrics.Relation(at 5.0 5.0, at 5.0 5.0)) (Nullable()) "coincident centres have none"
                let score = LayoutMetrics.Score([ req ShapeColor.Red ShapeKind.Circle (at 5.0 5.0); req ShapeColor.Blue ShapeKind.Circle (at 5.0 5.0) ], [])
                Expect.isEmpty score.Pairs "no pair to score"
            }
            test "the summary counts over images and gives rates" {
                let good = LayoutMetrics.Score(pair, [ det ShapeColor.Red ShapeKind.Circle left; det ShapeColor.Blue ShapeKind.Square right ])
                let swapped = LayoutMetrics.Score(pair, [ det ShapeColor.Red ShapeKind.Circle right; det ShapeColor.Blue ShapeKind.Square left; det ShapeColor.Cyan ShapeKind.Cross left ])
                let missing = LayoutMetrics.Score([ req ShapeColor.Yellow ShapeKind.Diamond left ], [])
                let s = LayoutMetrics.Summarize [ good; swapped; missing ]
                Expect.equal (s.Images, s.Objects, s.Found, s.ColorFound) (3, 5, 4, 4) "object counts"
                Expect.equal (s.IouSuccesses, s.CenterSuccesses, s.ColorCenterSuccesses, s.ImagesAllFound) (2, 2, 2, 2) "successes"
                Expect.equal (s.Pairs, s.PairsBothFound, s.PairsCorrect) (2, 2, 1) "pairs"
                Expect.equal (s.ImagesWithUnrequested, s.UnrequestedDetections) (1, 1) "unrequested"
                Expect.floatClose Accuracy.high s.MeanIou 0.4 "mean IoU"
                Expect.floatClose Accuracy.high s.ObjectAccuracy 0.8 "object accuracy"
                Expect.floatClose Accuracy.high s.RelationAccuracy 0.5 "relation accuracy"
                Expect.isTrue (Double.IsNaN (LayoutMetrics.Summarize [ missing ]).RelationAccuracy) "no pairs: NaN, not 0"
            }
        ]
    ]
