namespace LayoutGuidance.Experiments

open System
open System.IO
open System.Text.RegularExpressions
open Argu

type MergeArgs =
    | Partial

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Partial -> "merge the shard folders that exist even when some are missing."

type CompareArgs =
    | [<MainCommand; ExactlyOnce>] Results of baseline: string * candidate: string
    | Max_Drop of metric_amount: string
    | Max_Rise of metric_amount: string

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Results _ -> "two results folders, or metrics CSV files (e.g. a committed baseline), matched cell by cell."
            | Max_Drop _ -> "METRIC=AMOUNT: fail when the candidate's mean of a higher-is-better metric falls more than AMOUNT below the baseline's (repeatable)."
            | Max_Rise _ -> "METRIC=AMOUNT: fail when the candidate's mean of a lower-is-better metric rises more than AMOUNT above the baseline's (repeatable)."

type ExperimentArgs =
    | Models of folder: string
    | Device of name: string
    | Dtype of name: string
    | Shard of k_of_n: string
    | Seeds of count: int
    | Layouts of file: string
    | Out of folder: string
    | Resume
    | Force
    | Limit of count: int
    | Heatmaps
    | Dry_Run
    | No_Progress_Bar
    | [<CliPrefix(CliPrefix.None)>] Merge of ParseResults<MergeArgs>
    | [<CliPrefix(CliPrefix.None)>] Compare of ParseResults<CompareArgs>

    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Models _ -> "folder holding the named models as sub-folders (sd15/, sd21/, sd21-base/, sdxl/); default $LAYOUTGUIDANCE_MODELS."
            | Device _ -> "cpu, cuda or cuda:N (default cpu)."
            | Dtype _ -> "fp32, fp16 or bf16 (default fp32)."
            | Shard _ -> "render only shard k of n (e.g. 2/8) into <out>/<experiment>/shard-k-of-n/; join them with `merge`."
            | Seeds _ -> "replace the script's seeds by seeds 0..count-1."
            | Layouts _ -> "replace the script's layouts by those of a layout file (.json: a layout list or a benchmark layout set; .csv)."
            | Out _ -> "results root (default results); the experiment writes into <out>/<experiment>/."
            | Resume -> "keep finished cells and render only the missing ones."
            | Force -> "delete the experiment's previous results and start over."
            | Limit _ -> "render at most this many cells in this run."
            | Heatmaps -> "also write per-phrase attention heatmaps."
            | Dry_Run -> "list the cells with their ids and whether they are done; render nothing."
            | No_Progress_Bar -> "log one line per cell even on a terminal."
            | Merge _ -> "join the shard folders into one metrics.csv, gallery and report."
            | Compare _ -> "compare two results cell by cell; exits 1 when a threshold is exceeded."

/// The script-facing DSL: build an experiment from axes, then hand it to `Experiment.run`.
[<RequireQualifiedAccess; CompilationRepresentation(CompilationRepresentationFlags.ModuleSuffix)>]
module Experiment =
    /// An experiment named `name` (its results folder) over the cartesian product of `axes`.
    let create (name: string) (axes: Axis list) =
        Grid.checkName name
        { Name = name; Axes = axes; Filters = []; Gallery = None; Plots = [] }

    /// Keeps only the cells for which `keep` holds (it sees resolved settings).
    let where (keep: Cell -> bool) (e: Experiment) = { e with Filters = e.Filters @ [ keep ] }

    /// Gallery rows and columns by setting column, e.g. `Experiment.gallery "eta" "seed"`.
    let gallery (rows: string) (columns: string) (e: Experiment) =
        Gallery.checkKey "rows" rows
        Gallery.checkKey "columns" columns
        let size = e.Gallery |> Option.map _.ThumbSize |> Option.defaultValue 160
        { e with Gallery = Some { Rows = rows; Columns = columns; ThumbSize = size } }

    /// Adds a report plot: mean of metric `y` against setting `x`, one line per model.
    let plot (x: string) (y: string) (e: Experiment) = { e with Plots = e.Plots @ [ { X = x; Y = y } ] }

    /// The experiment's cells, resolved, in order.
    let cells (e: Experiment) = Grid.expand e

    let private devicePattern = Regex(@"^(cpu|cuda(:\d+)?)$", RegexOptions.CultureInvariant)

    let private device (name: string) =
        let n = name.Trim().ToLowerInvariant()
        if devicePattern.IsMatch n then n else failwith $"unknown device '{name}': use cpu, cuda or cuda:N"

    let private dtype (name: string) =
        match name.Trim().ToLowerInvariant() with
        | "fp32" | "float32" | "float" -> "fp32"
        | "fp16" | "float16" | "half" -> "fp16"
        | "bf16" | "bfloat16" -> "bf16"
        | _ -> failwith $"unknown dtype '{name}': use fp32, fp16 or bf16"

    let private positive what (n: int) = if n < 1 then failwith $"{what} must be at least 1, got {n}" else n

    let internal expandHome (path: string) =
        if path = "~" || path.StartsWith "~/" then Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, path.TrimStart('~').TrimStart('/'))
        else path

    /// `fsi.CommandLineArgs` starts with the script path, and `--` may separate fsi's own options.
    let private scriptArgs (argv: string[]) =
        let argv = if argv.Length > 0 && argv[0].EndsWith(".fsx", StringComparison.OrdinalIgnoreCase) then argv[1..] else argv
        if argv.Length > 0 && argv[0] = "--" then argv[1..] else argv

    let private parser = lazy (ArgumentParser.Create<ExperimentArgs>(programName = "dotnet fsi <script>.fsx --"))

    /// Parses the command line into run options; throws ArguParseException on bad or missing values.
    let options (argv: string[]) =
        let r = parser.Force().ParseCommandLine(scriptArgs argv, raiseOnUsage = true)
        if r.Contains Resume && r.Contains Force then r.Raise("--resume and --force contradict each other; pass one of them", ErrorCode.CommandLine)
        let settings =
            { ModelsRoot =
                r.TryGetResult Models
                |> Option.orElse (Option.ofObj (Environment.GetEnvironmentVariable "LAYOUTGUIDANCE_MODELS") |> Option.filter ((<>) ""))
                |> Option.map expandHome
              Device = r.TryPostProcessResult(Device, device) |> Option.defaultValue "cpu"
              Dtype = r.TryPostProcessResult(Dtype, dtype) |> Option.defaultValue "fp32"
              Heatmaps = r.Contains Heatmaps }
        let options =
            { RunOptions.defaults with
                Output = r.TryGetResult Out |> Option.map expandHome |> Option.defaultValue "results"
                Settings = settings
                Shard = r.TryPostProcessResult(Shard, fun s -> try Shard.parse s with :? GridException as e -> failwith e.Message)
                Seeds = r.TryPostProcessResult(Seeds, positive "--seeds")
                Layouts = r.TryGetResult Layouts |> Option.map (expandHome >> LayoutGuidance.Experiments.Layouts.fromFile)
                Limit = r.TryPostProcessResult(Limit, positive "--limit")
                Existing =
                    if r.Contains Resume then ExistingResults.Resume
                    elif r.Contains Force then ExistingResults.Overwrite
                    else ExistingResults.Refuse
                ProgressBar = not Console.IsOutputRedirected && not (r.Contains No_Progress_Bar) }
        r, options

    let private dryRun (options: RunOptions) (e: Experiment) =
        let folder = Runner.folder options e
        let finished, _, _ = Runner.finishedRows folder
        let isDone = finished.Rows |> List.map (fun r -> r[Columns.cellId]) |> Set.ofList
        let cells = Runner.cells options e
        for c in cells do
            options.Log.WriteLine $"""{(if isDone.Contains c.Id then "done   " else "missing")} {Cell.describe c}"""
        options.Log.WriteLine $"{cells.Length} cells, {cells |> List.filter (fun c -> isDone.Contains c.Id) |> List.length} done, results in {Path.GetFullPath folder}"

    /// The entry point scripts call: renders the grid (default), `merge`s shards or `compare`s two
    /// results, as the command line says. Returns the process exit code: 0 done, 1 failed (bad grid,
    /// locked folder, compare threshold exceeded, ...), 2 bad command line.
    let run (argv: string[]) (renderer: IRenderer) (e: Experiment) =
        try
            let r, options = options argv
            match r.TryGetSubCommand() with
            | Some(Merge m) ->
                Merge.run options (m.Contains Partial) e |> ignore
                0
            | Some(Compare c) ->
                let baseline, candidate = c.GetResult Results
                let thresholds =
                    (c.GetResults Max_Drop |> List.map (Compare.parseThreshold Better.Higher))
                    @ (c.GetResults Max_Rise |> List.map (Compare.parseThreshold Better.Lower))
                let result = Compare.run (Compare.load baseline) (Compare.load candidate) thresholds
                Compare.print options.Log result
                if result.Passed then 0 else 1
            | _ when r.Contains Dry_Run ->
                dryRun options e
                0
            | _ ->
                Runner.run renderer options e |> ignore
                0
        with
        | :? ArguParseException as ex when ex.ErrorCode = ErrorCode.HelpText ->
            Console.Out.WriteLine ex.Message
            0
        | :? ArguParseException as ex ->
            Console.Error.WriteLine ex.Message
            2
        | :? ExperimentException as ex ->
            Console.Error.WriteLine $"error: {ex.Message}"
            1
