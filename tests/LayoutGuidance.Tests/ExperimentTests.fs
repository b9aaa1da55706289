module LayoutGuidance.Tests.ExperimentTests

open System
open System.IO
open Argu
open Expecto
open LayoutGuidance.Experiments
open LayoutGuidance.Tests.ExperimentRenderer

let kitty = Layouts.helloKitty
let twoCats = Layouts.boxes "two-cats" "a cat and a cat" [ "cat", (0.0, 0.0, 0.5, 0.5); "cat", (0.5, 0.5, 1.0, 1.0) ]

let paperTable =
    Experiment.create "eta-by-layers" [
        Axis.models [ "sd15" ]
        Axis.eta [ 0.0; 10.0; 30.0; 60.0 ]
        Axis.layers [ "mid"; "mid+up1"; "all" ]
        Axis.layouts Layouts.demo
        Axis.firstSeeds 4
    ]

let pinnedCell = Cell.resolve { Cell.defaults with Layout = kitty; Seed = 445L }

let private gridError (f: unit -> 'a) = (caught<GridException> (f >> ignore)).Message

let gridTests =
    testList "grid" [
        test "the cartesian product reads like the paper's table and varies the first axis slowest" {
            let cells = Experiment.cells paperTable
            Expect.equal cells.Length (4 * 3 * 1 * 4) "4 η × 3 layer sets × 1 layout × 4 seeds"
            Expect.equal (cells |> List.map _.Id |> List.distinct |> List.length) cells.Length "ids are distinct"
            Expect.equal (cells |> List.take 12 |> List.map _.Eta |> List.distinct) [ 0.0 ] "η is outermost"
            Expect.equal (cells |> List.take 4 |> List.map _.Seed) [ 0L; 1L; 2L; 3L ] "seeds innermost"
            Expect.equal (cells |> List.map _.Layers |> List.distinct) [ "mid"; "mid+up_blocks.1"; "all" ] "layer shorthand expanded"
        }
        test "a filter keeps only matching cells, seeing resolved settings" {
            let e = paperTable |> Experiment.where (fun c -> c.Eta >= 30.0 && c.Layers <> "all")
            let cells = Experiment.cells e
            Expect.equal cells.Length (2 * 2 * 4) "η ∈ {30, 60} × 2 layer sets × 4 seeds"
            Expect.isTrue (cells |> List.forall (fun c -> c.Eta >= 30.0 && c.Layers <> "all")) "every cell matches"
        }
        test "zip pairs axes value by value instead of crossing them" {
            let e = Experiment.create "zipped" [ Axis.zip (Axis.steps [ 20; 50 ]) (Axis.window [ (0, 4); (0, 10) ]); Axis.layouts [ kitty ]; Axis.firstSeeds 2 ]
            let cells = Experiment.cells e
            Expect.equal cells.Length 4 "2 pairs × 2 seeds"
            Expect.equal (cells |> List.map (fun c -> c.Steps, c.Window) |> List.distinct) [ 20, (0, 4); 50, (0, 10) ] "pairs kept together"
            let msg = gridError (fun () -> Axis.zip (Axis.steps [ 20; 50 ]) (Axis.eta [ 1.0 ]))
            Expect.stringContains msg "same length" "unequal zip is refused"
        }
        test "settings that cannot change the image collapse into one cell" {
            let e = Experiment.create "modes" [ Axis.guidance [ Guidance.None; Guidance.Backward ]; Axis.eta [ 0.0; 30.0 ]; Axis.layouts [ kitty ] ]
            let cells = Experiment.cells e
            Expect.equal cells.Length 3 "no guidance has no η: one cell, not two"
            let none = cells |> List.find (fun c -> c.Guidance = Guidance.None)
            Expect.equal (none.Eta, none.Layers, none.MaxIter) (0.0, "", 0) "guidance settings cleared"
            let clipped = Cell.resolve { Cell.defaults with Layout = kitty; Steps = 4; Window = (0, 10) }
            Expect.equal clipped.Window (0, 4) "window clipped to the steps"
        }
        test "--seeds replaces the seed axis, or adds one" {
            let cells = Experiment.cells (Grid.withSeedCount 2 paperTable)
            Expect.equal (cells |> List.map _.Seed |> List.distinct) [ 0L; 1L ] "seeds 0..1"
            let fixedSeed = Experiment.create "one" [ Axis.layouts [ kitty ] ]
            Expect.equal (Experiment.cells (Grid.withSeedCount 3 fixedSeed)).Length 3 "seed axis added"
            let zipped = Experiment.create "z" [ Axis.zip (Axis.seeds [ 1L; 2L ]) (Axis.eta [ 1.0; 2.0 ]); Axis.layouts [ kitty ] ]
            Expect.stringContains (gridError (fun () -> Grid.withSeedCount 2 zipped)) "zipped" "zipped seeds are not silently replaced"
        }
        test "--layouts replaces the layout axis" {
            let other = Layouts.boxes "other" "a red circle" [ "red circle", (0.1, 0.1, 0.4, 0.4) ]
            let cells = Experiment.cells (Grid.withLayouts [ other ] paperTable)
            Expect.equal (cells |> List.map _.Layout |> List.distinct) [ other ] "only the new layout"
            Expect.equal cells.Length ((Experiment.cells paperTable).Length / (Experiment.cells paperTable |> List.map _.Layout |> List.distinct).Length) "the other axes as before"
        }
        test "bad settings fail with a message naming the value and the fix" {
            Expect.stringContains (gridError (fun () -> Model.Parse "sd14")) "unknown model 'sd14'" "model"
            Expect.equal (Model.Parse "./weights/my-sd15") (Model.Folder "./weights/my-sd15") "a path is a folder model"
            Expect.stringContains (gridError (fun () -> Experiment.cells (Experiment.create "nolayout" [ Axis.eta [ 1.0 ] ]))) "Axis.layouts" "missing layout"
            Expect.stringContains (gridError (fun () -> Layouts.boxes "bad" "a cat" [ "cat", (0.5, 0.2, 0.4, 0.9) ])) "x0 < x1" "inverted box"
            Expect.stringContains (gridError (fun () -> Experiment.cells (Experiment.create "res" [ Axis.resolution [ 500, 512 ]; Axis.layouts [ kitty ] ]))) "multiples of 8" "resolution"
            Expect.stringContains (gridError (fun () -> Experiment.cells (Experiment.create "lay" [ Axis.layers [ "mid+all" ]; Axis.layouts [ kitty ] ]))) "\"all\"" "layers"
            Expect.stringContains (gridError (fun () -> Experiment.create "bad/name" [])) "bad/name" "experiment name"
            Expect.stringContains (gridError (fun () -> Experiment.gallery "etaa" "seed" paperTable)) "'etaa'" "gallery key"
            let clash = Experiment.create "clash" [ Axis.layouts [ kitty; { twoCats with Name = kitty.Name } ] ]
            Expect.stringContains (gridError (fun () -> Experiment.cells clash)) "named 'hello-kitty'" "layout names are unique"
        }
    ]

let idTests =
    testList "cell id" [
        test "a fixed cell has a pinned id (same on every machine and .NET version)" {
            let canonical =
                "lg-cell/1\nmodel=4:sd15\nguidance=8:backward\neta=2:30\nlayers=15:mid+up_blocks.1\nwindow=4:0,10\nmax_iter=1:5\n"
                + "loss_threshold=3:0.2\nsteps=2:50\nscheduler=7:default\ncfg_scale=3:7.5\nresolution=6:native\nseed=3:445\n"
                + "prompt=48:A hello kitty toy is playing with a purple ball.\nphrase=11:hello kitty\nbox=15:0.1,0.2,0.5,0.8\n"
                + "phrase=4:ball\nbox=17:0.75,0.6,0.95,0.8\n"
            Expect.equal pinnedCell.Canonical canonical "canonical settings text"
            // sha256 of that text, computed independently (Python hashlib), first 12 hex digits.
            Expect.equal pinnedCell.Id "43b5701362bd" "pinned id"
        }
        test "every setting changes the id; the layout's name does not" {
            let c = pinnedCell
            let variants =
                [ { c with Model = Model.Sdxl }; { c with Guidance = Guidance.Forward }; { c with Eta = 31.0 }
                  { c with Layers = "mid" }; { c with Window = (1, 10) }; { c with MaxIter = 6 }; { c with LossThreshold = 0.3 }
                  { c with Steps = 51 }; { c with Scheduler = "DDIMScheduler" }; { c with CfgScale = 5.0 }
                  { c with Resolution = Some(512, 512) }; { c with Seed = 446L }; { c with Layout = { kitty with Prompt = kitty.Prompt + " " } }
                  { c with Layout = { kitty with Phrases = kitty.Phrases |> List.map (fun p -> { p with Boxes = p.Boxes |> List.map (fun b -> { b with X1 = b.X1 - 0.01 }) }) } } ]
            let ids = c.Id :: (variants |> List.map (fun v -> (Cell.resolve v).Id))
            Expect.equal (List.distinct ids).Length ids.Length "each variant has its own id"
            Expect.equal { c with Layout = { c.Layout with Name = "renamed" } }.Id c.Id "name is a label only"
            Expect.equal (Cell.resolve { c with Layers = "mid+up1" }).Id (Cell.resolve { c with Layers = "mid+up_blocks.1" }).Id "shorthand is the same cell"
        }
        test "ids do not depend on the current culture" {
            let before = Globalization.CultureInfo.CurrentCulture
            let expected = (Cell.resolve { pinnedCell with LossThreshold = 0.25 }).Id
            try
                Globalization.CultureInfo.CurrentCulture <- Globalization.CultureInfo("de-DE")
                let c = Cell.resolve { pinnedCell with LossThreshold = 0.25 }
                Expect.stringContains c.Canonical "loss_threshold=4:0.25\n" "invariant decimal point"
                Expect.equal c.Id expected "same id under a comma-decimal culture"
            finally
                Globalization.CultureInfo.CurrentCulture <- before
        }
    ]

let private layoutJson =
    """[
      { "name": "kitty", "prompt": "A hello kitty toy is playing with a purple ball.",
        "phrases": [ { "text": "hello kitty", "boxes": [[0.1, 0.2, 0.5, 0.8]] }, { "text": "ball", "boxes": [[0.75, 0.6, 0.95, 0.8]] } ] },
      { "prompt": "two birds, one \"tree\"", "phrases": [ { "text": "birds", "boxes": [[0, 0, 0.2, 0.2], [0.8, 0, 1, 0.2]] } ] }
    ]"""

let layoutFileTests =
    testList "layout files" [
        test "JSON and CSV layout sets load the same layouts, several boxes per phrase included" {
            let dir = Fixtures.tempDir ()
            let json = Path.Combine(dir, "set.json")
            File.WriteAllText(json, layoutJson)
            let csv = Path.Combine(dir, "set.csv")
            File.WriteAllText(csv, "layout,prompt,phrase,x0,y0,x1,y1\n"
                                   + "kitty,A hello kitty toy is playing with a purple ball.,hello kitty,0.1,0.2,0.5,0.8\n"
                                   + "kitty,A hello kitty toy is playing with a purple ball.,ball,0.75,0.6,0.95,0.8\n"
                                   + "L2,\"two birds, one \"\"tree\"\"\",birds,0,0,0.2,0.2\n"
                                   + "L2,\"two birds, one \"\"tree\"\"\",birds,0.8,0,1,0.2\n")
            let fromJson, fromCsv = Layouts.fromFile json, Layouts.fromFile csv
            Expect.equal fromCsv fromJson "same layouts"
            Expect.equal fromJson[1].Name "L2" "unnamed layouts are numbered"
            Expect.equal fromJson[1].Phrases.Head.Boxes.Length 2 "two boxes for one phrase"
            Expect.equal (List.map _.Text fromJson[0].Phrases) [ "hello kitty"; "ball" ] "phrase order kept"
        }
        test "a benchmark layout set reads as layouts named by id, one box per phrase" {
            let dir = Fixtures.tempDir ()
            let file = Path.Combine(dir, "set.json")
            File.WriteAllText(file, """{ "description": "two", "layouts": [
                { "id": "pair-0", "prompt": "a red circle and a blue square", "phrases": ["red circle", "blue square"],
                  "boxes": [[0.0, 0.25, 0.5, 0.75], [0.5, 0.25, 1.0, 0.75]] },
                { "id": "single-0", "prompt": "a green cross", "phrases": ["green cross"], "boxes": [[0.1, 0.1, 0.4, 0.4]] } ] }""")
            let layouts = Layouts.fromFile file
            Expect.equal (layouts |> List.map _.Name) [ "pair-0"; "single-0" ] "ids are names"
            Expect.equal layouts.Head.Phrases [ Layouts.phrase "red circle" [ (0.0, 0.25, 0.5, 0.75) ]; Layouts.phrase "blue square" [ (0.5, 0.25, 1.0, 0.75) ] ] "phrases with their boxes"
            let shipped = Layouts.fromFile (ShapesBenchmark.layoutFile Fixtures.repoRoot)
            Expect.equal shipped.Length 90 "the shapes benchmark's 90 layouts"
            File.WriteAllText(file, """{ "layouts": [ { "id": "x", "prompt": "a red circle", "phrases": ["blue square"], "boxes": [[0.1, 0.1, 0.4, 0.4]] } ] }""")
            let msg = gridError (fun () -> Layouts.fromFile file)
            Expect.stringContains msg "set.json" "file"
            Expect.stringContains msg "blue square" "the phrase not in its prompt"
        }
        test "a bad layout file names the file, the row and the problem" {
            let dir = Fixtures.tempDir ()
            let csv = Path.Combine(dir, "bad.csv")
            File.WriteAllText(csv, "prompt,phrase,x0,y0,x1,y1\na cat,cat,0.1,0.1,zero,0.5\n")
            let msg = gridError (fun () -> Layouts.fromFile csv)
            Expect.stringContains msg "bad.csv" "file"
            Expect.stringContains msg "row 2" "row"
            Expect.stringContains msg "x1 'zero'" "value"
            let json = Path.Combine(dir, "bad.json")
            File.WriteAllText(json, """[ { "name": "x", "phrases": [] } ]""")
            Expect.stringContains (gridError (fun () -> Layouts.fromFile json)) "has no \"prompt\"" "missing key"
        }
    ]

let csvTests =
    testList "metrics csv" [
        test "prompts with commas, quotes, newlines and non-ASCII round-trip exactly" {
            let dir = Fixtures.tempDir ()
            let path = Path.Combine(dir, "metrics.csv")
            let prompts = [ "a cat, a dog"; "say \"cheese\""; "two\nlines"; "crlf\r\nline"; "naïve café 猫"; " padded "; "" ]
            let rows = prompts |> List.mapi (fun i p -> Map.ofList [ Columns.cellId, $"id{i}"; "prompt", p; "eta", "30" ])
            MetricsCsv.write path { Columns = [ Columns.cellId; "prompt"; "eta" ]; Rows = rows } |> ignore
            let back, dropped = MetricsCsv.read path
            Expect.equal dropped 0 "nothing dropped"
            Expect.equal (back.Rows |> List.map (fun r -> r["prompt"])) prompts "prompts unchanged"
            Expect.equal back.Columns [ Columns.cellId; "prompt"; "eta"; Columns.checksum ] "checksum column last"
        }
        test "appending rows with new columns keeps every row readable" {
            let dir = Fixtures.tempDir ()
            let path = Path.Combine(dir, "metrics.csv")
            let w = MetricsWriter(path, MetricsCsv.empty)
            w.Append [ Columns.cellId, "a"; "prompt", "x, y"; "in_box_ratio.0", "0.5" ]
            w.Append [ Columns.cellId, "b"; "prompt", "z"; "in_box_ratio.0", "0.6"; "in_box_ratio.1", "0.7" ]
            w.Append [ Columns.cellId, "c"; "prompt", "w\nv"; "in_box_ratio.0", "0.8" ]
            let back, dropped = MetricsCsv.read path
            Expect.equal dropped 0 "nothing dropped"
            Expect.equal (back.Rows |> List.map (fun r -> r[Columns.cellId], r["in_box_ratio.1"])) [ "a", ""; "b", "0.7"; "c", "" ] "values in place"
        }
        test "a torn last row and a tampered row are dropped, the rest kept" {
            let dir = Fixtures.tempDir ()
            let path = Path.Combine(dir, "metrics.csv")
            let w = MetricsWriter(path, MetricsCsv.empty)
            for i in 1..4 do w.Append [ Columns.cellId, $"id{i}"; "prompt", $"a \"quoted\", prompt\nnumber {i}"; "eta", "30" ]
            let text = File.ReadAllText path
            File.WriteAllText(path, text.Replace("number 2", "number 9").Substring(0, text.Length - 12))
            let back, dropped = MetricsCsv.read path
            Expect.equal (back.Rows |> List.map (fun r -> r[Columns.cellId])) [ "id1"; "id3" ] "intact rows"
            Expect.equal dropped 2 "tampered and torn rows dropped"
        }
    ]

let cliTests =
    testList "command line" [
        test "--help prints usage naming every option and subcommand" {
            let e = caught<ArguParseException> (fun () -> Experiment.options [| "x.fsx"; "--"; "--help" |] |> ignore)
            Expect.equal e.ErrorCode ErrorCode.HelpText "help text"
            for option in [ "--models"; "--device"; "--dtype"; "--shard"; "--seeds"; "--layouts"; "--out"; "--resume"; "--force"; "--limit"; "merge"; "compare" ] do
                Expect.stringContains e.Message option option
        }
        test "options parse into run options" {
            let _, o = Experiment.options [| "--models"; "/m"; "--device"; "CUDA:1"; "--dtype"; "bfloat16"; "--shard"; "2/8"; "--seeds"; "4"; "--out"; "/r"; "--resume"; "--limit"; "3" |]
            Expect.equal o.Settings { ModelsRoot = Some "/m"; Device = "cuda:1"; Dtype = "bf16"; Heatmaps = false } "settings"
            Expect.equal (o.Output, o.Shard, o.Seeds, o.Limit, o.Existing) ("/r", Some { Index = 2; Count = 8 }, Some 4, Some 3, ExistingResults.Resume) "run options"
            let _, withLayouts = Experiment.options [| "--layouts"; ShapesBenchmark.layoutFile Fixtures.repoRoot |]
            Expect.equal (withLayouts.Layouts |> Option.map List.length) (Some 90) "--layouts reads the file"
            Expect.stringContains (gridError (fun () -> Experiment.options [| "--layouts"; "/nowhere/set.json" |] |> ignore)) "/nowhere/set.json" "a missing layout file is named"
        }
        test "bad values fail with a message naming them" {
            let fails (args: string[]) (mentions: string) =
                let e = caught<ArguParseException> (fun () -> Experiment.options args |> ignore)
                Expect.stringContains e.Message mentions (String.Join(" ", args))
            fails [| "--shard"; "3/2" |] "bad shard '3/2'"
            fails [| "--dtype"; "int8" |] "unknown dtype 'int8'"
            fails [| "--device"; "tpu" |] "unknown device 'tpu'"
            fails [| "--seeds"; "0" |] "--seeds must be at least 1"
            fails [| "--resume"; "--force" |] "contradict"
            fails [| "--limit"; "many" |] "--limit"
            fails [| "compare"; "only-one" |] "compare"
        }
        test "shards split the grid into disjoint, balanced parts" {
            let cells = Experiment.cells paperTable
            let parts = [ for k in 1..5 -> Shard.select { Index = k; Count = 5 } cells ]
            Expect.equal (parts |> List.sumBy List.length) cells.Length "every cell in one shard"
            Expect.equal (parts |> List.concat |> List.map _.Id |> Set.ofList) (cells |> List.map _.Id |> Set.ofList) "union is the grid"
            let sizes = parts |> List.map List.length
            Expect.isLessThanOrEqual (List.max sizes - List.min sizes) 1 "balanced"
        }
    ]

[<Tests>]
let tests = testList "experiments" [ gridTests; idTests; layoutFileTests; csvTests; cliTests ]
