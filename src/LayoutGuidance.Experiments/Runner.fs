namespace LayoutGuidance.Experiments

open System
open System.Diagnostics
open System.IO
open System.Text.Json

/// What to do with a results folder that already holds results.
[<RequireQualifiedAccess>]
type ExistingResults =
    /// Stop with an error that names --resume and --force.
    | Refuse
    /// Keep finished cells and render only the missing ones.
    | Resume
    /// Delete the previous outputs and start over.
    | Overwrite

type RunOptions =
    { /// Root of all results; the experiment writes under `<Output>/<experiment name>/`.
      Output: string
      Settings: RunSettings
      Shard: Shard option
      /// Replaces the seed axis by seeds 0 .. n-1.
      Seeds: int option
      /// Replaces the layout axis (`--layouts FILE`).
      Layouts: Layout list option
      /// Renders at most this many cells in this run.
      Limit: int option
      Existing: ExistingResults
      Log: TextWriter
      /// A live progress bar instead of one line per cell.
      ProgressBar: bool }

type RunSummary =
    { Folder: string
      /// Cells of this run's grid (after --seeds and --shard).
      Total: int
      /// Already finished before this run.
      Skipped: int
      Rendered: int
      /// Still missing after this run (left by --limit).
      Remaining: int }

[<RequireQualifiedAccess>]
module RunOptions =
    let defaults =
        { Output = "results"
          Settings = { ModelsRoot = None; Device = "cpu"; Dtype = "fp32"; Heatmaps = false }
          Shard = None
          Seeds = None
          Layouts = None
          Limit = None
          Existing = ExistingResults.Refuse
          Log = Console.Out
          ProgressBar = not Console.IsOutputRedirected }

[<RequireQualifiedAccess>]
module Runner =
    let metricsFile = "metrics.csv"

    /// Every output a run writes, besides the lock file and shard sub-folders.
    let private outputs = [ metricsFile; Manifest.fileName; "gallery.png"; "index.html" ]
    let private outputFolders = [ "images"; "heatmaps"; "traces"; "plots" ]

    /// `<Output>/<experiment>/`, or its `shard-k-of-n/` sub-folder.
    let folder (options: RunOptions) (e: Experiment) =
        let top = Path.Combine(options.Output, e.Name)
        match options.Shard with
        | Some s -> Path.Combine(top, s.FolderName)
        | None -> top

    /// The cells this run is responsible for: the grid, with --seeds and --layouts applied,
    /// restricted to the shard.
    let cells (options: RunOptions) (e: Experiment) =
        let e = match options.Seeds with Some n -> Grid.withSeedCount n e | None -> e
        let e = match options.Layouts with Some ls -> Grid.withLayouts ls e | None -> e
        let all = Grid.expand e
        match options.Shard with
        | Some s -> Shard.select s all
        | None -> all

    let private hasResults (folder: string) =
        outputs |> List.exists (fun f -> File.Exists(Path.Combine(folder, f)))
        || outputFolders |> List.exists (fun d -> Directory.Exists(Path.Combine(folder, d)) && Directory.EnumerateFileSystemEntries(Path.Combine(folder, d)) |> Seq.isEmpty |> not)

    let private clear (folder: string) =
        for f in outputs do File.Delete(Path.Combine(folder, f))
        for d in outputFolders do
            let p = Path.Combine(folder, d)
            if Directory.Exists p then Directory.Delete(p, true)

    /// Rows that count as finished: valid checksum, image present, one per cell id.
    let finishedRows (folder: string) =
        let table, torn = MetricsCsv.read (Path.Combine(folder, metricsFile))
        let withImage, noImage =
            table.Rows |> List.partition (fun r -> r.TryFind Columns.image |> Option.exists (fun i -> i <> "" && File.Exists(Path.Combine(folder, i))))
        let unique = withImage |> List.distinctBy (fun r -> r[Columns.cellId])
        { table with Rows = unique }, torn, noImage.Length

    let private slug (s: string) =
        let chars = s.ToLowerInvariant().ToCharArray() |> Array.map (fun c -> if Char.IsAsciiLetterOrDigit c then c else '-')
        let t = String(chars).Trim('-')
        let t = Text.RegularExpressions.Regex.Replace(t, "-+", "-")
        let t = if t.Length > 40 then t.Substring(0, 40).TrimEnd('-') else t
        if t = "" then "phrase" else t

    let private writeJsonAtomic (path: string) (value: obj) =
        Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize value)
        File.Move(path + ".tmp", path, true)

    let private metricName (name: string) =
        if String.IsNullOrWhiteSpace name || Columns.nonMetrics.Contains name || name = Columns.wallSeconds || name = Columns.peakMemory then
            raise (ExperimentException $"the renderer returned a metric named '{name}', which is empty or a reserved metrics.csv column; rename it")
        name

    /// The cell's metrics.csv row; checked before anything is written, so a renderer that names its
    /// metrics badly fails on the first cell without leaving files behind.
    let private row (settings: RunSettings) (cell: Cell) (result: CellResult) (seconds: float) =
        let peak = float (Process.GetCurrentProcess().PeakWorkingSet64) / 1048576.0
        let row =
            [ yield Columns.cellId, cell.Id
              yield! Cell.settings cell
              yield Columns.device, settings.Device
              yield Columns.dtype, settings.Dtype
              yield Columns.image, $"images/{cell.Id}.png"
              yield Columns.wallSeconds, Invariant.float (Math.Round(seconds, 3))
              yield Columns.peakMemory, Invariant.float (Math.Round(peak, 1))
              for name, v in result.Metrics -> metricName name, Invariant.float v
              for name, v in result.Traces do
                  let name = metricName name
                  if v.Length > 0 then
                      yield $"{name}.first", Invariant.float v[0]
                      yield $"{name}.last", Invariant.float v[v.Length - 1]
                      yield $"{name}.min", Invariant.float (Array.min v)
                  yield $"{name}.count", Invariant.int v.Length ]
        match row |> List.countBy fst |> List.filter (fun (_, n) -> n > 1) with
        | [] -> row
        | twice -> raise (ExperimentException $"""the renderer's metrics and trace summaries name {String.Join(", ", twice |> List.map fst)} more than once; give each metric its own name""")

    /// Saves a cell's image, heatmaps and traces; the image goes last but one, the row last of all.
    let private save (folder: string) (cell: Cell) (result: CellResult) =
        let id = cell.Id
        let used = Collections.Generic.HashSet<string>()
        for phrase, map in result.Heatmaps do
            let index = cell.Layout.Phrases |> List.tryFindIndex (fun p -> p.Text = phrase) |> Option.defaultValue 0
            let mutable name = slug phrase
            let mutable n = 2
            while not (used.Add name) do
                name <- $"{slug phrase}-{n}"
                n <- n + 1
            use h = Pictures.heatmap result.Image map (Pictures.phraseColour index)
            Pictures.savePng (Path.Combine(folder, "heatmaps", $"{id}-{name}.png")) h
        if not result.Traces.IsEmpty then
            writeJsonAtomic (Path.Combine(folder, "traces", id + ".json")) (dict result.Traces)
        use img = Pictures.ofRgb result.Image
        Pictures.savePng (Path.Combine(folder, "images", id + ".png")) img

    /// Writes gallery.png, plots/ and index.html from the folder's metrics.
    let report (e: Experiment) (folder: string) (table: MetricsTable) (manifest: Nodes.JsonObject) =
        if not table.Rows.IsEmpty then
            let spec = Gallery.resolve e.Gallery table.Rows
            Gallery.render spec folder table.Rows (Path.Combine(folder, "gallery.png"))
            let plots = Plots.renderAll e.Plots folder table.Rows
            let get (k: string) = match manifest[k] with null -> "?" | n -> n.ToString()
            let models = table.Rows |> List.map (fun r -> r["model"]) |> List.distinct
            let tool = manifest["tool"]
            let toolText = if isNull tool then "" else $"""tool {tool["version"]} at commit {tool["git_commit"]} · """
            let summary =
                $"""{table.Rows.Length} images · models {String.Join(", ", models)} · device {get "device"} · dtype {get "dtype"} · {toolText}finished {get "ended"}"""
            Report.write folder e.Name summary plots table |> ignore

    /// Renders the experiment's missing cells into its results folder (see RunOptions), then writes
    /// the gallery, plots and index.html. Models load once per group of cells, in grid order.
    let run (renderer: IRenderer) (options: RunOptions) (e: Experiment) =
        let cells = cells options e
        Fonts.typeface () |> ignore // fail before hours of rendering, not after
        renderer.Check(options.Settings, cells)
        let folder = folder options e
        use _lock = ExperimentLock.Acquire folder
        let log = options.Log
        if hasResults folder then
            match options.Existing with
            | ExistingResults.Refuse ->
                raise (ResultsException $"{Path.GetFullPath folder} already holds results: pass --resume to render only the missing cells, or --force to delete them and start over")
            | ExistingResults.Overwrite -> clear folder
            | ExistingResults.Resume ->
                match Manifest.read folder |> Option.bind Manifest.dtype with
                | Some d when d <> options.Settings.Dtype ->
                    raise (ResultsException $"{Path.GetFullPath folder} was rendered in {d}; resuming in {options.Settings.Dtype} would mix precisions. Use --dtype {d}, another --out, or --force")
                | _ -> ()
        let finished, torn, noImage = finishedRows folder
        if torn > 0 then log.WriteLine $"{metricsFile}: dropped {torn} torn or damaged row(s); their cells render again"
        if noImage > 0 then log.WriteLine $"{metricsFile}: dropped {noImage} row(s) whose image is missing; their cells render again"
        let writer = MetricsWriter(Path.Combine(folder, metricsFile), finished)
        let isDone = finished.Rows |> List.map (fun r -> r[Columns.cellId]) |> Set.ofList
        let missing = cells |> List.filter (fun c -> not (isDone.Contains c.Id))
        let todo = match options.Limit with Some n -> List.truncate n missing | None -> missing
        let manifest = Manifest.read folder |> Option.defaultWith (fun () -> Nodes.JsonObject())
        let runRecord = Manifest.startRun manifest (Manifest.definition e cells.Length) options.Settings options.Shard "run"
        Manifest.write folder manifest
        let skipped = cells.Length - missing.Length
        log.WriteLine $"{e.Name}: {cells.Length} cells, {skipped} already done, rendering {todo.Length} into {Path.GetFullPath folder}"
        let mutable rendered = 0
        try
            use progress = new Progress(todo.Length, log, options.ProgressBar)
            for model, group in todo |> List.groupBy _.Model do
                progress.Note $"loading {model.Name} ({group.Length} cells)"
                use cellRenderer = renderer.Load(options.Settings, model)
                Manifest.addModel manifest cellRenderer.Info
                Manifest.write folder manifest
                for cell in group do
                    progress.Starting cell
                    let clock = Stopwatch.StartNew()
                    let result =
                        try cellRenderer.Render cell
                        with _ ->
                            progress.Note $"cell {Cell.describe cell} failed"
                            reraise ()
                    let values = row options.Settings cell result clock.Elapsed.TotalSeconds
                    save folder cell result
                    writer.Append values
                    rendered <- rendered + 1
                    progress.Finished(cell, clock.Elapsed.TotalSeconds)
        with ex ->
            Manifest.endRun manifest runRecord $"failed: {ex.Message}" rendered
            Manifest.write folder manifest
            reraise ()
        let status = if todo.Length < missing.Length then "partial (--limit)" else "completed"
        Manifest.endRun manifest runRecord status rendered
        Manifest.write folder manifest
        report e folder writer.Table manifest
        log.WriteLine $"""{e.Name}: rendered {rendered}, {missing.Length - rendered} left; report at {Path.Combine(Path.GetFullPath folder, "index.html")}"""
        { Folder = folder; Total = cells.Length; Skipped = skipped; Rendered = rendered; Remaining = missing.Length - rendered }
