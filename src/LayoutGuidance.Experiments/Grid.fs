namespace LayoutGuidance.Experiments

open System
open System.Text.RegularExpressions

/// One value of an axis: its label (for logs and the manifest) and how it sets a cell.
type AxisValue = { Label: string; Apply: Cell -> Cell }

/// A setting swept over several values. A one-value axis is a fixed setting.
type Axis = { Name: string; Values: AxisValue list }

/// Gallery rows and columns, named by metrics.csv setting columns ("eta", "seed", "layers", ...).
/// Cells that differ in other settings go into separate blocks of the same gallery.
type GallerySpec = { Rows: string; Columns: string; ThumbSize: int }

/// A report plot: mean of metric Y against setting X, one line per model.
type PlotSpec = { X: string; Y: string }

/// An experiment: a name (its results folder), axes whose cartesian product is the grid, and filters.
type Experiment =
    { Name: string
      Axes: Axis list
      Filters: (Cell -> bool) list
      Gallery: GallerySpec option
      Plots: PlotSpec list }

[<RequireQualifiedAccess>]
module Axis =
    /// An axis of any setting: `Axis.custom "fast" [ "yes", fun c -> { c with Steps = 20 } ]`.
    let custom (name: string) (values: (string * (Cell -> Cell)) list) =
        if List.isEmpty values then raise (GridException $"axis '{name}' has no values")
        { Name = name; Values = values |> List.map (fun (label, f) -> { Label = label; Apply = f }) }

    let private over name (label: 'a -> string) (set: 'a -> Cell -> Cell) (values: 'a list) =
        custom name (values |> List.map (fun v -> label v, set v))

    /// "sd15", "sd21", "sd21-base", "sdxl", "toy" or a folder path.
    let models (names: string list) = over "model" id (fun m c -> { c with Model = Model.Parse m }) names
    let guidance (modes: Guidance list) = over "guidance" (fun (g: Guidance) -> g.Name) (fun g c -> { c with Guidance = g }) modes
    let eta (values: float list) = over "eta" Invariant.float (fun v c -> { c with Eta = v }) values
    /// Layer patterns: "mid", "mid+up_blocks.1" (or "mid+up1"), "all", ...
    let layers (patterns: string list) = over "layers" id (fun p c -> { c with Layers = p }) patterns
    /// Guided step windows [start, end) in step indices.
    let window (windows: (int * int) list) = over "window" (fun (s, e) -> $"{s}-{e}") (fun w c -> { c with Window = w }) windows
    let maxIter (values: int list) = over "max_iter" Invariant.int (fun v c -> { c with MaxIter = v }) values
    let lossThreshold (values: float list) = over "loss_threshold" Invariant.float (fun v c -> { c with LossThreshold = v }) values
    let steps (values: int list) = over "steps" Invariant.int (fun v c -> { c with Steps = v }) values
    let scheduler (names: string list) = over "scheduler" id (fun v c -> { c with Scheduler = v }) names
    let cfg (scales: float list) = over "cfg_scale" Invariant.float (fun v c -> { c with CfgScale = v }) scales
    /// (width, height) in pixels; cells default to the model's native size.
    let resolution (sizes: (int * int) list) = over "resolution" (fun (w, h) -> $"{w}x{h}") (fun r c -> { c with Resolution = Some r }) sizes
    let seeds (seeds: int64 list) = over "seed" Invariant.int64 (fun s c -> { c with Seed = s }) seeds
    /// Seeds 0 .. count-1.
    let firstSeeds (count: int) =
        if count < 1 then raise (GridException $"seed count must be at least 1, got {count}")
        seeds [ 0L .. int64 count - 1L ]
    let layouts (layouts: Layout list) = over "layout" (fun (l: Layout) -> l.Name) (fun l c -> { c with Layout = l }) layouts

    /// Pairs two axes value by value instead of crossing them (e.g. steps with their guided window).
    let zip (a: Axis) (b: Axis) =
        if a.Values.Length <> b.Values.Length then
            raise (GridException $"cannot zip axis '{a.Name}' ({a.Values.Length} values) with '{b.Name}' ({b.Values.Length} values): they need the same length")
        { Name = $"{a.Name}+{b.Name}"
          Values = List.map2 (fun x y -> { Label = $"{x.Label}|{y.Label}"; Apply = x.Apply >> y.Apply }) a.Values b.Values }

/// Expanding an experiment into its cells.
[<RequireQualifiedAccess>]
module Grid =
    let private validName = Regex(@"^[A-Za-z0-9][A-Za-z0-9._-]*$", RegexOptions.CultureInvariant)

    let checkName (name: string) =
        if isNull name || not (validName.IsMatch name) then
            raise (GridException $"experiment name '{name}' must be letters, digits, '.', '_' or '-' (it names the results folder)")

    /// The resolved cells in axis order (first axis varies slowest), filtered, without duplicates
    /// (cells whose settings resolve alike, e.g. η values under no guidance, keep their first place).
    let expand (e: Experiment) =
        checkName e.Name
        let product =
            e.Axes
            |> List.fold (fun cells axis -> [ for c in cells do for v in axis.Values -> v.Apply c ]) [ Cell.defaults ]
            |> List.map Cell.resolve
        let cells = product |> List.filter (fun c -> e.Filters |> List.forall (fun f -> f c)) |> List.distinctBy _.Id
        if cells.IsEmpty then raise (GridException $"experiment '{e.Name}' has no cells: its filters removed all {product.Length}")
        for name, ls in cells |> List.map _.Layout |> List.distinct |> List.groupBy _.Name do
            if ls.Length > 1 then raise (GridException $"experiment '{e.Name}' has {ls.Length} different layouts named '{name}'; give each its own name")
        cells

    /// The experiment with axis `name` replaced by `axis` (appended when the script has none);
    /// `option` names the command-line option for the error when the axis is zipped with another.
    let private replaceAxis (option: string) (name: string) (axis: Axis) (e: Experiment) =
        let isIt (a: Axis) = a.Name = name
        match e.Axes |> List.tryFind (fun a -> not (isIt a) && a.Name.Split('+') |> Array.contains name) with
        | Some zipped -> raise (GridException $"{option} cannot replace the {name}s zipped into axis '{zipped.Name}'; change the script instead")
        | None ->
            if e.Axes |> List.exists isIt then { e with Axes = e.Axes |> List.map (fun a -> if isIt a then axis else a) }
            else { e with Axes = e.Axes @ [ axis ] }

    /// The experiment with its seed axis replaced by seeds 0 .. count-1 (added when seeds were fixed).
    let withSeedCount (count: int) (e: Experiment) = replaceAxis "--seeds" "seed" (Axis.firstSeeds count) e

    /// The experiment with its layout axis replaced by `layouts` (e.g. a benchmark layout file).
    let withLayouts (layouts: Layout list) (e: Experiment) = replaceAxis "--layouts" "layout" (Axis.layouts layouts) e
