module LayoutGuidance.Tests.ToyDataTests

open System
open System.IO
open System.Security.Cryptography
open System.Text
open Expecto
open LayoutGuidance.Native
open LayoutGuidance.Toy
open LayoutGuidance.Evaluation

let private size = ShapesDataset.ImageSize
let private toyDir parts = Path.Combine(Array.ofList (Fixtures.repoRoot :: "src" :: "LayoutGuidance" :: "Toy" :: parts))

let private checksum (s: ShapeSample) =
    Convert.ToHexString(SHA256.HashData(Array.append s.Rgb (Encoding.UTF8.GetBytes s.Caption))).ToLowerInvariant()

/// Box in pixels.
let private px (b: Box) = b.X0 * float size, b.Y0 * float size, b.X1 * float size, b.Y1 * float size

let private chromaAndHue (rgb: byte[]) (x: int) (y: int) =
    let i = (y * size + x) * 3
    let r, g, b = float rgb.[i] / 255.0, float rgb.[i + 1] / 255.0, float rgb.[i + 2] / 255.0
    max r (max g b) - min r (min g b), ShapePalette.Nearest(ShapePalette.HueOf(r, g, b))

/// A point inside every silhouette: the box centre, lower for the triangle (whose apex is at the top).
let private innerPoint (o: ShapeObject) =
    let x0, y0, x1, y1 = px o.Box
    let v = if o.Shape = ShapeKind.Triangle then 0.7 else 0.5
    int (x0 + 0.5 * (x1 - x0)), int (y0 + v * (y1 - y0))

/// CLIP's BPE on one word: merge the lowest-ranked adjacent pair until none is in the merge list.
let private bpe (ranks: Map<string * string, int>) (word: string) =
    let mutable symbols = [ for c in word.[.. word.Length - 2] -> string c ] @ [ string word.[word.Length - 1] + "</w>" ]
    let rank pair = Map.tryFind pair ranks |> Option.defaultValue Int32.MaxValue
    let mutable fin = false
    while not fin && symbols.Length > 1 do
        let best = symbols |> List.pairwise |> List.minBy rank
        if rank best = Int32.MaxValue then fin <- true
        else
            let rec merge = function
                | a :: b :: rest when (a, b) = best -> (a + b) :: merge rest
                | a :: rest -> a :: merge rest
                | [] -> []
            symbols <- merge symbols
    symbols

let private samples = lazy (ShapesDataset.GenerateBatch(0UL, 500))

[<Tests>]
let tests =
    testList "toy data" [
        testList "shapes generator" [
            test "a seed gives the same image and caption on every machine (pinned checksums)" {
                let pinned =
                    [ 0UL, "1b812bcdc0e66537ac96c0175c643783ddc024acb25148e154d07fe3c05422b9"
                      1UL, "ff73108d41aa8c63b40a9278254cc64fe82e91a8fa5c4ecd60e50656f3377ba1"
                      12345UL, "2b850a30cab801f7662f5e4917dde9ac35155bda111a980464aec7e06e7a6cbc" ]
                for seed, expected in pinned do
                    let s = ShapesDataset.Generate seed
                    Expect.equal (checksum s) expected $"seed {seed}: {s.Caption}"
                Expect.equal (ShapesDataset.Generate 0UL).Caption "a magenta circle, a green circle and a yellow circle" "caption of seed 0"
            }
            test "generation is a pure function of the seed" {
                let a, b = ShapesDataset.Generate 77UL, ShapesDataset.Generate 77UL
                Expect.sequenceEqual a.Rgb b.Rgb "image"
                Expect.equal a.Caption b.Caption "caption"
                Expect.sequenceEqual a.Objects b.Objects "objects"
                Expect.notEqual (checksum (ShapesDataset.Generate 78UL)) (checksum a) "a neighbouring seed differs"
                Expect.equal (ShapesDataset.GenerateBatch(77UL, 2).[1].Seed) 78UL "a batch takes consecutive seeds"
            }
            test "the caption names exactly the objects, in order, without positions" {
                for s in samples.Value do
                    Expect.isTrue (s.Objects.Count >= 1 && s.Objects.Count <= ShapesDataset.MaxObjects) $"{s.Seed}: object count"
                    let phrases = [ for o in s.Objects -> o.Phrase ]
                    Expect.equal s.Caption (ShapeWords.Caption phrases) $"{s.Seed}: caption"
                    Expect.equal (List.distinct phrases) phrases $"{s.Seed}: phrases are distinct"
                    let words = s.Caption.Replace(",", "").Split ' '
                    Expect.all words (fun w -> Seq.contains w ShapeWords.CaptionWords) $"{s.Seed}: only caption words in '{s.Caption}'"
            }
            test "boxes are square, 12-28 px, inside the image, and objects do not overlap heavily" {
                for s in samples.Value do
                    let boxes = [ for o in s.Objects -> o, px o.Box ]
                    for o, (x0, y0, x1, y1) in boxes do
                        Expect.floatClose Accuracy.high (x1 - x0) (y1 - y0) $"{s.Seed} {o.Phrase}: square"
                        Expect.isTrue (x1 - x0 >= ShapesDataset.MinObjectSize && x1 - x0 < ShapesDataset.MaxObjectSize) $"{s.Seed} {o.Phrase}: size {x1 - x0}"
                        Expect.isTrue (x0 >= 1.0 && y0 >= 1.0 && x1 <= float size - 1.0 && y1 <= float size - 1.0) $"{s.Seed} {o.Phrase}: inside"
                    for i in 0 .. boxes.Length - 1 do
                        for j in i + 1 .. boxes.Length - 1 do
                            let (a: ShapeObject), (ax0, ay0, ax1, ay1) = boxes.[i]
                            let (b: ShapeObject), (bx0, by0, bx1, by1) = boxes.[j]
                            let gap = max (max (bx0 - ax1) (ax0 - bx1)) (max (by0 - ay1) (ay0 - by1))
                            let need = if a.Color = b.Color then 3.0 else -2.0
                            Expect.isTrue (gap >= need - 1e-9) $"{s.Seed}: {a.Phrase} and {b.Phrase} are {gap:F2} px apart"
            }
            test "each object is drawn in its colour where its box says, on a grey background" {
                for s in samples.Value do
                    for o in s.Objects do
                        let x, y = innerPoint o
                        let chroma, color = chromaAndHue s.Rgb x y
                        Expect.isGreaterThan chroma 0.4 $"{s.Seed} {o.Phrase}: saturated at ({x},{y})"
                        Expect.equal color o.Color $"{s.Seed} {o.Phrase}: colour at ({x},{y})"
                    // Pixels more than a pixel away from every box show the background only.
                    let nearObject = Array2D.zeroCreate<bool> size size
                    for o in s.Objects do
                        let x0, y0, x1, y1 = px o.Box
                        for y in max 0 (int y0 - 2) .. min (size - 1) (int y1 + 1) do
                            for x in max 0 (int x0 - 2) .. min (size - 1) (int x1 + 1) do
                                nearObject.[y, x] <- true
                    let colourful =
                        [ for y in 0 .. size - 1 do
                            for x in 0 .. size - 1 do
                                if not nearObject.[y, x] && fst (chromaAndHue s.Rgb x y) >= 0.1 then yield x, y ]
                    Expect.isEmpty colourful $"{s.Seed}: background pixels with colour"
            }
            test "every colour, shape and object count occurs about equally often" {
                let all = ShapesDataset.GenerateBatch(10_000UL, 1500)
                let objects = all |> Seq.collect (fun s -> s.Objects) |> Seq.toList
                let expectShare name (counts: (string * int) list) =
                    let mean = float (counts |> List.sumBy snd) / float counts.Length
                    for key, n in counts do
                        Expect.isTrue (abs (float n - mean) < 0.2 * mean) $"{name} {key}: {n} vs mean {mean:F0}"
                expectShare "colour" (objects |> List.countBy (fun o -> string o.Color))
                expectShare "shape" (objects |> List.countBy (fun o -> string o.Shape))
                expectShare "count" (all |> Seq.toList |> List.countBy (fun s -> string s.Objects.Count))
                Expect.equal (objects |> List.map (fun o -> o.Color) |> List.distinct |> List.length) 6 "all colours"
                Expect.equal (objects |> List.map (fun o -> o.Shape) |> List.distinct |> List.length) 5 "all shapes"
            }
            test "a training batch becomes [B,3,64,64] in [-1,1] and converts back to the same bytes" {
                TorchRuntime.Initialize()
                let batch = ShapesDataset.GenerateBatch(5UL, 4)
                use images = ImageTensors.ToTensor batch
                Expect.equal images.shape [| 4L; 3L; 64L; 64L |] "shape"
                Expect.equal images.dtype TorchSharp.torch.float32 "dtype"
                Expect.isGreaterThanOrEqual (images.min().item<float32>()) -1.0f "min"
                Expect.isLessThanOrEqual (images.max().item<float32>()) 1.0f "max"
                let i = (10 * size + 20) * 3
                Expect.floatClose Accuracy.high (float (images.[1L, 2L, 10L, 20L].item<float32>())) (float batch.[1].Rgb.[i + 2] / 127.5 - 1.0) "channel-first layout"
                let back = ImageTensors.ToRgbBytes images
                for k in 0 .. 3 do Expect.sequenceEqual back.[k] batch.[k].Rgb $"image {k}"
            }
            test "thousands of samples per second" {
                ShapesDataset.GenerateBatch(0UL, 50) |> ignore
                let watch = Diagnostics.Stopwatch.StartNew()
                ShapesDataset.GenerateBatch(100_000UL, 2000) |> ignore
                let rate = 2000.0 / watch.Elapsed.TotalSeconds
                printfn $"shapes generator: {rate:F0} samples/s"
                // Generous, since other work may share the core; a regression to per-sample allocations of whole images shows up well below it.
                Expect.isGreaterThan rate 1000.0 "samples per second"
            }
        ]
        testList "caption vocabulary" [
            test "the committed tokenizer files are the ones the caption words give" {
                let dir = Fixtures.tempDir ()
                CaptionVocabulary.Write dir
                for file in [ "vocab.json"; "merges.txt"; "tokenizer_config.json"; "special_tokens_map.json" ] do
                    Expect.sequenceEqual (File.ReadAllBytes(Path.Combine(dir, file))) (File.ReadAllBytes(toyDir [ "tokenizer"; file ])) file
            }
            test "every caption word is a single token under CLIP's BPE" {
                let vocab = Text.Json.JsonSerializer.Deserialize<Collections.Generic.Dictionary<string, int>>(File.ReadAllText(toyDir [ "tokenizer"; "vocab.json" ]))
                let lines = File.ReadAllLines(toyDir [ "tokenizer"; "merges.txt" ])
                Expect.equal lines.[0] "#version: 0.2" "merges header"
                let ranks = lines.[1..] |> Array.mapi (fun i l -> let p = l.Split ' ' in (p.[0], p.[1]), i) |> Map.ofArray
                for word in ShapeWords.CaptionWords do
                    let tokens = bpe ranks word
                    Expect.equal tokens [ word + "</w>" ] $"'{word}' tokenizes to {tokens}"
                    Expect.isTrue (vocab.ContainsKey(word + "</w>")) $"'{word}</w>' in vocab.json"
                for s in samples.Value do
                    for word in s.Caption.Replace(",", " ,").Split ' ' do
                        Expect.equal (bpe ranks word).Length 1 $"'{word}' of '{s.Caption}'"
            }
            test "ids follow the tiny reference tokenizers: bytes, bytes</w>, merges, then the special tokens" {
                let read (path: string) = Text.Json.JsonSerializer.Deserialize<Collections.Generic.Dictionary<string, int>>(File.ReadAllText path)
                let vocab = read (toyDir [ "tokenizer"; "vocab.json" ])
                let reference = read (Fixtures.path [ "tiny-sd15"; "tokenizer"; "vocab.json" ])
                for KeyValue(token, id) in reference do
                    if id < 512 then Expect.equal vocab.[token] id $"byte symbol {token}"
                let merges = File.ReadAllLines(toyDir [ "tokenizer"; "merges.txt" ]).[1..]
                Expect.equal vocab.Count (512 + merges.Length + 2) "vocabulary size"
                merges |> Array.iteri (fun i m -> Expect.equal vocab.[m.Replace(" ", "")] (512 + i) $"merge {m}")
                Expect.equal vocab.["<|startoftext|>"] (vocab.Count - 2) "<|startoftext|>"
                Expect.equal vocab.["<|endoftext|>"] (vocab.Count - 1) "<|endoftext|>"
                Expect.equal (Collections.Generic.HashSet(vocab.Values).Count) vocab.Count "ids are unique"
            }
        ]
        testList "benchmark layouts" [
            let layouts = lazy (LayoutSet.Read(Path.Combine(Fixtures.repoRoot, "experiments", "layouts", "shapes-benchmark.json")))
            test "singles cover every phrase; pairs cover each relation ten times; twenty triples" {
                let ls = layouts.Value
                let kind (l: LayoutSpec) = l.Id.Substring(0, l.Id.LastIndexOf '-')
                let counts = ls |> Seq.countBy kind |> Map.ofSeq
                Expect.equal counts (Map [ "single", 30; "pair-left", 10; "pair-right", 10; "pair-above", 10; "pair-below", 10; "triple", 20 ]) "kinds"
                let singles = ls |> Seq.filter (fun l -> kind l = "single") |> Seq.map (fun l -> l.Phrases.[0]) |> Set.ofSeq
                Expect.equal singles.Count 30 "every colour/shape phrase once"
                for l in ls do
                    let expected = match kind l with "single" -> 1 | "triple" -> 3 | _ -> 2
                    Expect.equal l.Phrases.Count expected $"{l.Id}: phrase count"
            }
            test "prompts use the training caption grammar and boxes follow the training objects" {
                for l in layouts.Value do
                    Expect.equal l.Prompt (ShapeWords.Caption l.Phrases) $"{l.Id}: prompt"
                    Expect.equal (l.Phrases |> Seq.distinct |> Seq.length) l.Phrases.Count $"{l.Id}: distinct phrases"
                    let requested = Seq.map2 (fun p b -> RequestedObject.Parse(p, b)) l.Phrases l.Boxes |> Seq.toList
                    for r in requested do
                        let x0, y0, x1, y1 = px r.Target
                        Expect.floatClose Accuracy.high (x1 - x0) (y1 - y0) $"{l.Id} {r.Phrase}: square"
                        Expect.isTrue (x1 - x0 >= 16.0 && x1 - x0 <= 28.0) $"{l.Id} {r.Phrase}: {x1 - x0} px"
                    for i in 0 .. requested.Length - 1 do
                        for j in i + 1 .. requested.Length - 1 do
                            Expect.equal (requested.[i].Target.Intersection requested.[j].Target) 0.0 $"{l.Id}: boxes {i} and {j} overlap"
            }
            test "a pair's id names the relation of its first box to its second" {
                for l in layouts.Value |> Seq.filter (fun l -> l.Id.StartsWith "pair-") do
                    let expected =
                        match l.Id.Split('-').[1] with
                        | "left" -> SpatialRelation.LeftOf
                        | "right" -> SpatialRelation.RightOf
                        | "above" -> SpatialRelation.Above
                        | _ -> SpatialRelation.Below
                    Expect.equal (LayoutMetrics.Relation(l.Boxes.[0], l.Boxes.[1])) (Nullable expected) l.Id
            }
            test "a malformed layout file is rejected with the entry and the problem" {
                let dir = Fixtures.tempDir ()
                let write name (text: string) =
                    let path = Path.Combine(dir, name)
                    File.WriteAllText(path, text)
                    path
                let bad =
                    [ "missing-phrase.json", """{"layouts": [{"id": "x", "prompt": "a red circle", "phrases": ["blue square"], "boxes": [[0.1, 0.1, 0.4, 0.4]]}]}""", "does not occur in the prompt"
                      "count.json", """{"layouts": [{"id": "x", "prompt": "a red circle", "phrases": ["red circle"], "boxes": []}]}""", "1 phrases but 0 boxes"
                      "box.json", """{"layouts": [{"id": "x", "prompt": "a red circle", "phrases": ["red circle"], "boxes": [[0.5, 0.1, 0.4, 0.4]]}]}""", "boxes[0]"
                      "dup.json", """{"layouts": [{"id": "x", "prompt": "a", "phrases": ["a"], "boxes": [[0, 0, 1, 1]]}, {"id": "x", "prompt": "a", "phrases": ["a"], "boxes": [[0, 0, 1, 1]]}]}""", "appears twice"
                      "root.json", """[1, 2]""", "\"layouts\" array" ]
                for name, text, message in bad do
                    let path = write name text
                    Expect.throwsC (fun () -> LayoutSet.Read path |> ignore) (fun e ->
                        Expect.isTrue (e :? LayoutSetException) $"{name}: {e.GetType().Name}"
                        Expect.stringContains e.Message message name
                        Expect.stringContains e.Message name "names the file")
            }
        ]
    ]
