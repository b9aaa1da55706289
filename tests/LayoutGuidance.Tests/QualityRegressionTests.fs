/// The output-quality regression test: the shapes benchmark's CI-sized grid (experiments/toy-regression.fsx)
/// rendered on the committed toy model. Backward guidance must put whole objects into their boxes, clearly
/// more often than no guidance, without stray objects, and must not fall behind the committed baseline
/// (results/baselines/toy-regression.csv), checked with the runner's `compare`.
module LayoutGuidance.Tests.QualityRegressionTests

open System.IO
open Expecto
open LayoutGuidance.Experiments

let private toyFolder = Path.Combine(Fixtures.repoRoot, "models", "toy")
let private baselineFile = Path.Combine(Fixtures.repoRoot, "results", "baselines", "toy-regression.csv")

/// Share of objects found (colour and shape) with their centre in their box, guided, that the toy
/// model must reach; placement that broke the shapes would not count.
let guidedPlacementFloor = 0.8

/// Points by which guided placement must beat unguided placement.
let placementMargin = 0.5

/// Unrequested detections per image that guidance may add over the unguided images.
let unrequestedSlack = 0.1

/// How far a mean may fall below the baseline before the test fails: a few of the 36 images per
/// guidance mode flipping is noise across CPUs and thread counts, a real regression moves more.
let baselineSlack =
    [ "color_center_success", 0.1; "center_success", 0.1; "object_accuracy", 0.1; "color_accuracy", 0.1; "in_box_ratio.mean", 0.05 ]

let private rendered =
    lazy
        (let layouts = Layouts.fromFile (ShapesBenchmark.layoutFile Fixtures.repoRoot)
         let e = ShapesBenchmark.regression toyFolder layouts
         let root = Fixtures.tempDir ()
         let options = { RunOptions.defaults with Output = root; Log = new StringWriter(); ProgressBar = false }
         Runner.run (PipelineRenderer(toyFolder)) options e |> ignore
         let table, dropped = MetricsCsv.read (Path.Combine(root, e.Name, Runner.metricsFile))
         Expect.equal dropped 0 "every row readable"
         table)

/// Mean of a metric over the cells of one guidance mode.
let private mean (guidance: string) (metric: string) =
    rendered.Value.Rows
    |> List.filter (fun r -> r["guidance"] = guidance)
    |> List.choose (fun r -> MetricsCsv.number r metric)
    |> List.average

[<Tests>]
let tests =
    testList "output quality (toy model, shapes benchmark subset)" [
        test "backward guidance draws most objects whole and centred in their boxes" {
            let guided = mean "backward" "center_success"
            Expect.isGreaterThanOrEqual guided guidedPlacementFloor $"guided found-and-centred rate {guided:P0}"
        }

        test "backward guidance beats no guidance by a clear margin" {
            let guided, unguided = mean "backward" "center_success", mean "none" "center_success"
            Expect.isGreaterThanOrEqual (guided - unguided) placementMargin $"guided {guided:P0} vs unguided {unguided:P0}"
            Expect.isGreaterThan (mean "backward" "in_box_ratio.mean") (mean "none" "in_box_ratio.mean") "attention in the boxes rises"
        }

        test "backward guidance adds no unrequested objects" {
            let guided, unguided = mean "backward" "unrequested_objects", mean "none" "unrequested_objects"
            Expect.isLessThanOrEqual guided (unguided + unrequestedSlack) $"unrequested per image: guided {guided:F2} vs unguided {unguided:F2}"
        }

        test "the benchmark summary has a row per guidance mode and layout kind" {
            let lines = (ShapesBenchmark.summary rendered.Value).Split('\n', System.StringSplitOptions.RemoveEmptyEntries) |> List.ofArray
            let rows = lines |> List.skip 2 |> List.map (fun l -> l.Split('|') |> Array.map _.Trim())
            Expect.equal [ for r in rows -> r[1], r[3], r[4] ] [ "backward", "pair", "16"; "backward", "single", "20"; "none", "pair", "16"; "none", "single", "20" ] "mode, kind, images"
            Expect.stringContains lines.Head "| colour centred in box |" "header"
            let guidedPairs = rows |> List.find (fun r -> r[1] = "backward" && r[3] = "pair")
            let expected =
                rendered.Value.Rows
                |> List.filter (fun r -> r["guidance"] = "backward" && ShapesBenchmark.kind r["layout"] = "pair")
                |> List.averageBy (fun r -> float r["color_center_success"])
            Expect.equal guidedPairs[7] ((100.0 * expected).ToString("F1", System.Globalization.CultureInfo.InvariantCulture) + " %") "guided pairs' colour-centred rate"
        }

        test "no metric has fallen behind the committed baseline" {
            let baseline = Compare.load baselineFile
            let thresholds = [ for metric, slack in baselineSlack -> { Metric = metric; Better = Better.Higher; Allowed = slack } ]
            let result = Compare.run baseline rendered.Value thresholds
            use text = new StringWriter()
            Compare.print text result
            Expect.equal (result.Matched, result.OnlyInBaseline, result.OnlyInCandidate) (rendered.Value.Rows.Length, 0, 0)
                $"the baseline holds exactly this grid's cells; refresh it as experiments/toy-regression.fsx says\n{text}"
            Expect.isTrue result.Passed $"compare against {baselineFile}:\n{text}"
        }
    ]
