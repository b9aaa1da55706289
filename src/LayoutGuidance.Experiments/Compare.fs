namespace LayoutGuidance.Experiments

open System
open System.IO

/// Which way a metric gets better.
[<RequireQualifiedAccess>]
type Better =
    | Higher
    | Lower

/// How far a metric's mean may move the wrong way before the comparison fails.
type Threshold = { Metric: string; Better: Better; Allowed: float }

type MetricComparison =
    { Metric: string
      /// Matched cells where both sides have a number.
      Cells: int
      Baseline: float
      Candidate: float
      /// Candidate mean minus baseline mean.
      Difference: float
      /// Largest |candidate − baseline| of a single cell.
      MaxCellDifference: float
      Threshold: Threshold option
      Failed: bool }

type Comparison =
    { Matched: int
      OnlyInBaseline: int
      OnlyInCandidate: int
      Metrics: MetricComparison list
      /// Thresholds naming metrics that are not in both files.
      MissingMetrics: string list
      Passed: bool }

/// Regression check between two results: cells matched by id, metric by metric.
[<RequireQualifiedAccess>]
module Compare =
    /// A results folder (its metrics.csv) or a metrics CSV file, e.g. a committed baseline.
    let load (path: string) =
        let file = if Directory.Exists path then Path.Combine(path, Runner.metricsFile) else path
        if not (File.Exists file) then
            let hint =
                if Directory.Exists path && Directory.GetDirectories(path, "shard-*-of-*").Length > 0 then " (it has shard folders: merge them first)"
                else ""
            raise (ResultsException $"{Path.GetFullPath file} does not exist{hint}; compare takes results folders or metrics CSV files")
        let table, dropped = MetricsCsv.read file
        if table.Rows.IsEmpty then raise (ResultsException $"{Path.GetFullPath file} has no valid rows ({dropped} dropped)")
        table

    /// "metric=amount" from the command line.
    let parseThreshold (better: Better) (text: string) =
        match text.Split('=', 2) with
        | [| m; a |] when m.Trim() <> "" ->
            match Invariant.tryFloat (a.Trim()) with
            | Some v when v >= 0.0 -> { Metric = m.Trim(); Better = better; Allowed = v }
            | _ -> raise (ResultsException $"bad threshold '{text}': the amount after '=' must be a number >= 0")
        | _ -> raise (ResultsException $"bad threshold '{text}': write METRIC=AMOUNT, e.g. in_box_ratio.mean=0.02")

    let private numbers (rows: Map<string, string> list) =
        rows |> List.map (fun r -> r[Columns.cellId], r) |> Map.ofList

    /// Compares every numeric metric both sides have, on the cells both sides have.
    let run (baseline: MetricsTable) (candidate: MetricsTable) (thresholds: Threshold list) =
        let b, c = numbers baseline.Rows, numbers candidate.Rows
        let common = b |> Map.toList |> List.map fst |> List.filter c.ContainsKey
        if common.IsEmpty then raise (ResultsException "the two results have no cell id in common: they come from different grids")
        let metricsOf (t: MetricsTable) = t.Columns |> List.filter (fun k -> not (Columns.nonMetrics.Contains k)) |> Set.ofList
        let shared = Set.intersect (metricsOf baseline) (metricsOf candidate)
        let value (rows: Map<string, Map<string, string>>) id m = MetricsCsv.number rows[id] m
        let metrics =
            [ for m in baseline.Columns |> List.filter shared.Contains do
                let pairs = common |> List.choose (fun id -> match value b id m, value c id m with Some x, Some y -> Some(x, y) | _ -> None)
                if not pairs.IsEmpty then
                    let bm, cm = pairs |> List.averageBy fst, pairs |> List.averageBy snd
                    let threshold = thresholds |> List.tryFind (fun t -> t.Metric = m)
                    let failed =
                        match threshold with
                        | Some { Better = Better.Higher; Allowed = a } -> cm < bm - a
                        | Some { Better = Better.Lower; Allowed = a } -> cm > bm + a
                        | None -> false
                    { Metric = m
                      Cells = pairs.Length
                      Baseline = bm
                      Candidate = cm
                      Difference = cm - bm
                      MaxCellDifference = pairs |> List.map (fun (x, y) -> abs (y - x)) |> List.max
                      Threshold = threshold
                      Failed = failed } ]
        let missing = thresholds |> List.map _.Metric |> List.filter (fun m -> not (metrics |> List.exists (fun r -> r.Metric = m)))
        { Matched = common.Length
          OnlyInBaseline = b.Count - common.Length
          OnlyInCandidate = c.Count - common.Length
          Metrics = metrics
          MissingMetrics = missing
          Passed = missing.IsEmpty && not (metrics |> List.exists _.Failed) }

    /// A plain-text table of the comparison, ending with PASS or FAIL.
    let print (out: TextWriter) (r: Comparison) =
        out.WriteLine $"{r.Matched} cells matched by id; {r.OnlyInBaseline} only in baseline, {r.OnlyInCandidate} only in candidate"
        let width = r.Metrics |> List.map (fun m -> m.Metric.Length) |> List.fold max 6
        out.WriteLine(String.Format("{0}  {1,6}  {2,12}  {3,12}  {4,12}  {5,12}  {6}", "metric".PadRight width, "cells", "baseline", "candidate", "difference", "max |cell|", "check"))
        for m in r.Metrics do
            let check =
                match m.Threshold with
                | None -> ""
                | Some t ->
                    let rule = match t.Better with Better.Higher -> $"drop <= {t.Allowed}" | Better.Lower -> $"rise <= {t.Allowed}"
                    (if m.Failed then "FAIL " else "ok ") + rule
            out.WriteLine(String.Format(Globalization.CultureInfo.InvariantCulture, "{0}  {1,6}  {2,12:G6}  {3,12:G6}  {4,12:G6}  {5,12:G6}  {6}", m.Metric.PadRight width, m.Cells, m.Baseline, m.Candidate, m.Difference, m.MaxCellDifference, check))
        for m in r.MissingMetrics do out.WriteLine $"FAIL threshold on '{m}': that metric is not in both results"
        out.WriteLine(if r.Passed then "PASS" else "FAIL")
