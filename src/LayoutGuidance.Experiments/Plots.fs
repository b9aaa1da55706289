/// Report plots rendered to PNG with ScottPlot: metrics against a setting, traces against the step.
[<RequireQualifiedAccess>]
module LayoutGuidance.Experiments.Plots

open System
open System.IO
open System.Text.Json

/// Plotted when the script names none and the columns exist.
let defaults = [ { X = "eta"; Y = "in_box_ratio.mean" }; { X = "eta"; Y = "final_energy" } ]

/// The trace plotted against the step in every report that has traces.
let lossTrace = "loss"

let private value (row: Map<string, string>) key = row.TryFind key |> Option.defaultValue ""

let private fileName (s: string) =
    String(s.ToCharArray() |> Array.map (fun c -> if Char.IsAsciiLetterOrDigit c || c = '.' || c = '-' then c else '_'))

let private newPlot (title: string) (x: string) (y: string) =
    Fonts.typeface () |> ignore
    let plot = new ScottPlot.Plot()
    plot.Font.Set(Fonts.family) |> ignore
    plot.Title(title, Nullable())
    plot.XLabel(x, Nullable())
    plot.YLabel(y, Nullable())
    plot

let private save (plot: ScottPlot.Plot) (path: string) =
    Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
    let temp = path + ".tmp.png"
    plot.SavePng(temp, 640, 420) |> ignore
    File.Move(temp, path, true)

/// The lines of a metric plot: mean of `spec.Y` per value of `spec.X` (as text, with whether every
/// x is a number), one line per model, and per guidance mode when several are in the table (forward λ
/// and backward η share the eta column but not a scale); against η, unguided images are the η = 0
/// point of every guided line.
let series (spec: PlotSpec) (rows: Map<string, string> list) =
    let modes = rows |> List.map (fun r -> value r "guidance") |> List.distinct
    let perMode = spec.X <> "guidance" && modes.Length > 1
    let lines (r: Map<string, string>) =
        let model, mode = value r "model", value r "guidance"
        if not perMode then [ model ]
        elif mode = "none" && spec.X = "eta" then [ for m in modes do if m <> "none" then $"{model} {m}" ]
        else [ $"{model} {mode}" ]
    let points =
        rows
        |> List.collect (fun r ->
            match MetricsCsv.number r spec.Y with
            | Some y -> [ for line in lines r -> line, value r spec.X, y ]
            | None -> [])
    let xs = points |> List.map (fun (_, x, _) -> x) |> List.distinct
    let numeric = xs |> List.forall (fun x -> (Invariant.tryFloat x).IsSome)
    let position x = if numeric then (Invariant.tryFloat x).Value else float (List.findIndex ((=) x) xs)
    let lines =
        [ for line, ps in points |> List.groupBy (fun (l, _, _) -> l) ->
            line,
            ps
            |> List.groupBy (fun (_, x, _) -> x)
            |> List.map (fun (x, g) -> position x, g |> List.averageBy (fun (_, _, y) -> y))
            |> List.sortBy fst ]
    lines, xs, numeric

/// The plot of `series` into `path`. None when the metric is absent or the setting takes a single value.
let metric (spec: PlotSpec) (rows: Map<string, string> list) (path: string) =
    let lines, xs, numeric = series spec rows
    if lines.IsEmpty || xs.Length < 2 then None
    else
        let plot = newPlot $"{spec.Y} vs {spec.X}" spec.X $"{spec.Y} (mean over cells)"
        for line, means in lines do
            let scatter = plot.Add.Scatter(means |> List.map fst |> Array.ofList, means |> List.map snd |> Array.ofList)
            scatter.LegendText <- line
        if not numeric then
            plot.Axes.Bottom.SetTicks(xs |> List.mapi (fun i _ -> float i) |> Array.ofList, Array.ofList xs)
        plot.ShowLegend() |> ignore
        save plot path
        Some path

/// Reads traces/<cell-id>.json.
let readTraces (folder: string) (cellId: string) =
    let path = Path.Combine(folder, "traces", cellId + ".json")
    if File.Exists path then JsonSerializer.Deserialize<Collections.Generic.Dictionary<string, float[]>>(File.ReadAllText path) |> Some
    else None

/// Mean trace against the step, one line per model and η. None when no cell has the trace.
let trace (name: string) (folder: string) (rows: Map<string, string> list) (path: string) =
    let series =
        rows
        |> List.choose (fun r ->
            readTraces folder (value r Columns.cellId)
            |> Option.bind (fun t -> match t.TryGetValue name with | true, v when v.Length > 0 -> Some v | _ -> None)
            |> Option.map (fun v -> $"""{value r "model"} eta={value r "eta"}""", v))
    if series.IsEmpty then None
    else
        let plot = newPlot $"{name} vs step" "step" $"{name} (mean over cells)"
        for label, group in series |> List.groupBy fst do
            let length = group |> List.map (snd >> Array.length) |> List.max
            let mean =
                Array.init length (fun i ->
                    let vs = group |> List.choose (fun (_, v) -> if i < v.Length then Some v[i] else None)
                    List.average vs)
            let line = plot.Add.Scatter(Array.init length float, mean)
            line.LegendText <- label
        plot.ShowLegend() |> ignore
        save plot path
        Some path

/// Every plot of a report, as (title, path relative to `folder`).
let renderAll (specs: PlotSpec list) (folder: string) (rows: Map<string, string> list) =
    let specs = if specs.IsEmpty then defaults else specs
    [ for s in specs do
        let rel = Path.Combine("plots", fileName $"{s.Y}-vs-{s.X}.png")
        match metric s rows (Path.Combine(folder, rel)) with
        | Some _ -> yield $"{s.Y} vs {s.X}", rel
        | None -> ()
      let rel = Path.Combine("plots", fileName $"{lossTrace}-vs-step.png")
      match trace lossTrace folder rows (Path.Combine(folder, rel)) with
      | Some _ -> yield $"{lossTrace} vs step", rel
      | None -> () ]
