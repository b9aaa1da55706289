namespace LayoutGuidance.Experiments

open System
open System.IO
open System.Text

/// The shapes layout benchmark on the embedded toy model: a layout set × guidance (none, forward,
/// backward) × seeds, each image scored by the shape detector (`ShapeMetrics`). The whole benchmark
/// is experiments/shapes-benchmark.fsx; `regression` is its CI-sized part, the output-quality
/// regression test, which the test suite renders and checks against a committed baseline.
[<RequireQualifiedAccess>]
module ShapesBenchmark =
    /// experiments/layouts/shapes-benchmark.json under the repository root: 30 single objects, 40
    /// pairs (ten per relation) and 20 triples.
    let layoutFile (repoRoot: string) = Path.Combine(repoRoot, "experiments", "layouts", "shapes-benchmark.json")

    /// Forward guidance's edit strength λ (read from the eta setting) in the benchmark.
    let forwardStrength = 1.0

    /// The guidance axis: none; forward with λ = `forwardStrength` at every step; backward with the
    /// model's defaults (so it must come after `ModelDefaults.axis`). Forward guidance edits maps only
    /// while it acts, and over backward guidance's window alone it hardly moved the toy model's objects.
    let modes (included: Guidance list) =
        Axis.custom "guidance" [
            for g in included ->
                g.Name,
                match g with
                | Guidance.Forward -> fun (c: Cell) -> { c with Guidance = g; Eta = forwardStrength; Window = (0, c.Steps) }
                | _ -> fun (c: Cell) -> { c with Guidance = g } ]

    let private create (name: string) (toyFolder: string) (layouts: Layout list) (included: Guidance list) (seeds: int) =
        Experiment.create name [
            Axis.models [ "toy" ]
            ModelDefaults.axis "toy" toyFolder
            Axis.layouts layouts
            modes included
            Axis.firstSeeds seeds ]
        |> Experiment.gallery "seed" "layout"
        |> Experiment.plot "guidance" "center_success"
        |> Experiment.plot "guidance" "color_center_success"
        |> Experiment.plot "guidance" "object_accuracy"

    /// Every layout × none / forward / backward × seeds 0 .. seeds-1, with the toy model's defaults.
    let experiment (toyFolder: string) (layouts: Layout list) (seeds: int) =
        create "shapes-benchmark" toyFolder layouts [ Guidance.None; Guidance.Forward; Guidance.Backward ] seeds

    /// Layouts of the regression test: the first `singles` single objects and the first `pairs`
    /// pairs of each relation.
    let regressionLayouts (layouts: Layout list) (singles: int) (pairs: int) =
        let named (prefix: string) = layouts |> List.filter (fun l -> l.Name.StartsWith prefix)
        let pairLayouts = [ "left"; "right"; "above"; "below" ] |> List.collect (fun r -> named $"pair-{r}-" |> List.truncate pairs)
        List.truncate singles (named "single-") @ pairLayouts

    /// The CI-sized regression grid: 10 single objects and 8 pairs (two per relation) × none /
    /// backward × 2 seeds, 52 objects per mode; about three and a half minutes on 2 cores (backward
    /// guidance's 40 iterations per guided step cost most of it).
    let regression (toyFolder: string) (layouts: Layout list) =
        create "toy-regression" toyFolder (regressionLayouts layouts 10 2) [ Guidance.None; Guidance.Backward ] 2

    /// The kind of a benchmark layout by its id's first word: single, pair or triple.
    let kind (layoutName: string) = layoutName.Split('-').[0]

    let private summaryMetrics =
        [ "object_accuracy", "object found"; "color_accuracy", "colour found"; "color_center_success", "colour centred in box"
          "center_success", "found, centre in box"; "iou_success", "found, IoU ≥ 0.5"; "color_layout_accuracy", "all colours centred"; "layout_accuracy", "all objects centred"
          "relation_accuracy", "pair relations"; "unrequested_objects", "unrequested / image"; "in_box_ratio.mean", "attention in box" ]

    /// A markdown table of a benchmark's metrics.csv: per guidance mode (and η) and layout kind, the
    /// mean over images of each per-image metric (an image's rates weigh alike, whatever its object count).
    let summary (table: MetricsTable) =
        let groups =
            table.Rows
            |> List.groupBy (fun r -> r["guidance"], r["eta"], kind r["layout"])
            |> List.sortBy (fun ((g, eta, k), _) -> g, Invariant.tryFloat eta, k)
        let md = StringBuilder()
        md.AppendLine($"""| guidance | η / λ | layouts | images | {String.Join(" | ", summaryMetrics |> List.map snd)} |""") |> ignore
        md.AppendLine($"""|---|---|---|---|{String.replicate summaryMetrics.Length "---|"}""") |> ignore
        for (g, eta, k), rows in groups do
            let cells =
                summaryMetrics
                |> List.map (fun (m, _) ->
                    match rows |> List.choose (fun r -> MetricsCsv.number r m) with
                    | [] -> ""
                    | vs when m = "unrequested_objects" || m = "in_box_ratio.mean" -> (List.average vs).ToString("F2", Globalization.CultureInfo.InvariantCulture)
                    | vs -> (100.0 * List.average vs).ToString("F1", Globalization.CultureInfo.InvariantCulture) + " %")
            md.AppendLine($"""| {g} | {(if g = "none" then "" else eta)} | {k} | {rows.Length} | {String.Join(" | ", cells)} |""") |> ignore
        md.ToString()
