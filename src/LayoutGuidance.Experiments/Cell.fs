namespace LayoutGuidance.Experiments

open System
open System.Security.Cryptography
open System.Text
open System.Text.Encodings.Web
open System.Text.Json
open System.Text.RegularExpressions

/// A box in normalised image coordinates: (0,0) is the top-left corner, (1,1) the bottom-right.
type Box = { X0: float; Y0: float; X1: float; Y1: float }

/// A phrase of the prompt and the boxes its object should fill.
type Phrase = { Text: string; Boxes: Box list }

/// A prompt with its phrases and their boxes. The name only labels galleries and tables; it is not
/// part of the cell id, so renaming a layout keeps its results.
type Layout = { Name: string; Prompt: string; Phrases: Phrase list }

/// Which diffusion model a cell runs on. Named models resolve to `<models root>/<name>` on the
/// renderer side; a folder path is used as written (and hashed as written).
[<RequireQualifiedAccess>]
type Model =
    | Sd15
    | Sd21
    | Sd21Base
    | Sdxl
    /// The small model embedded in the core library, for runs without real weights.
    | Toy
    | Folder of path: string

    member m.Name =
        match m with
        | Sd15 -> "sd15"
        | Sd21 -> "sd21"
        | Sd21Base -> "sd21-base"
        | Sdxl -> "sdxl"
        | Toy -> "toy"
        | Folder p -> p

    override m.ToString() = m.Name

    /// "sd15", "sd21", "sd21-base", "sdxl", "toy", or a folder path (it must contain a '/', or start
    /// with '.' or '~', so that a mistyped name is an error rather than a missing folder).
    static member Parse(text: string) =
        match (if isNull text then "" else text.Trim()) with
        | "sd15" -> Sd15
        | "sd21" -> Sd21
        | "sd21-base" -> Sd21Base
        | "sdxl" -> Sdxl
        | "toy" -> Toy
        | p when p.Contains '/' || p.Contains '\\' || p.StartsWith '.' || p.StartsWith '~' -> Folder p
        | other ->
            raise (GridException $"unknown model '{other}': use sd15, sd21, sd21-base, sdxl, toy, or a folder path containing '/' (e.g. ./models/my-sd15)")

/// How attention is steered: not at all, forward (attention maps are edited directly) or backward
/// (the latent is updated by the gradient of the layout energy, the paper's main method).
[<RequireQualifiedAccess>]
type Guidance =
    | None
    | Forward
    | Backward

    member g.Name =
        match g with
        | None -> "none"
        | Forward -> "forward"
        | Backward -> "backward"

    override g.ToString() = g.Name

    static member Parse(text: string) =
        match (if isNull text then "" else text.Trim().ToLowerInvariant()) with
        | "none" -> None
        | "forward" -> Forward
        | "backward" -> Backward
        | other -> raise (GridException $"unknown guidance mode '{other}': use none, forward or backward")

/// The fully resolved settings of one image. Step indices count denoising steps from 0; the guided
/// window is [start, end). Resolution `None` means the model's native size.
type Cell =
    { Model: Model
      Guidance: Guidance
      /// Loss scale η: step size of the latent update in backward guidance.
      Eta: float
      /// Cross-attention layers the energy is computed on: "mid", "mid+up_blocks.1", "all", ...
      Layers: string
      Window: int * int
      MaxIter: int
      LossThreshold: float
      Steps: int
      /// Scheduler name handed to the renderer; "default" keeps the model's own scheduler config.
      Scheduler: string
      CfgScale: float
      Resolution: (int * int) option
      Seed: int64
      Layout: Layout }

    /// The settings text the cell id hashes. Its format is versioned: changing it changes every id,
    /// so it may only ever gain a new version prefix, never an edit in place.
    member c.Canonical =
        let sb = StringBuilder("lg-cell/1\n")
        // Length-prefixed values: no escaping rules to get wrong, no separator a prompt could contain.
        let f (name: string) (value: string) =
            sb.Append(name).Append('=').Append(Encoding.UTF8.GetByteCount value).Append(':').Append(value).Append('\n') |> ignore
        f "model" c.Model.Name
        f "guidance" c.Guidance.Name
        f "eta" (Invariant.float c.Eta)
        f "layers" c.Layers
        f "window" $"{Invariant.int (fst c.Window)},{Invariant.int (snd c.Window)}"
        f "max_iter" (Invariant.int c.MaxIter)
        f "loss_threshold" (Invariant.float c.LossThreshold)
        f "steps" (Invariant.int c.Steps)
        f "scheduler" c.Scheduler
        f "cfg_scale" (Invariant.float c.CfgScale)
        f "resolution" (match c.Resolution with Some (w, h) -> $"{Invariant.int w}x{Invariant.int h}" | None -> "native")
        f "seed" (Invariant.int64 c.Seed)
        f "prompt" (c.Layout.Prompt.Normalize NormalizationForm.FormC)
        for p in c.Layout.Phrases do
            f "phrase" (p.Text.Normalize NormalizationForm.FormC)
            for b in p.Boxes do
                f "box" (String.Join(",", [ b.X0; b.Y0; b.X1; b.Y1 ] |> List.map Invariant.float))
        sb.ToString()

    /// Short hash of the canonical settings, the key for resume, sharding, merge and compare: the
    /// first 12 hex digits (48 bits) of SHA-256, so collisions stay negligible far beyond any grid.
    member c.Id =
        let hash = SHA256.HashData(Encoding.UTF8.GetBytes c.Canonical)
        Convert.ToHexString(hash, 0, 6).ToLowerInvariant()

/// Column names of the settings part of metrics.csv, in file order.
[<RequireQualifiedAccess>]
module Columns =
    let cellId = "cell_id"
    let image = "image"
    let device = "device"
    let dtype = "dtype"
    let wallSeconds = "wall_seconds"
    let peakMemory = "process_peak_mb"
    let checksum = "row_checksum"

    let settings =
        [ "model"; "guidance"; "eta"; "layers"; "step_start"; "step_end"; "max_iter"; "loss_threshold"; "steps"
          "scheduler"; "cfg_scale"; "width"; "height"; "seed"; "layout"; "prompt"; "phrases"; "boxes" ]

    /// Columns that describe a cell or a run rather than measure it.
    let nonMetrics = Set.ofList (cellId :: image :: device :: dtype :: checksum :: settings)

[<RequireQualifiedAccess>]
module Cell =
    let private layerToken = Regex(@"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", RegexOptions.CultureInvariant)
    let private shortBlock = Regex(@"^(up|down)(\d+)$", RegexOptions.CultureInvariant)

    /// Canonical layer pattern: lower case, shorthand expanded ("up1" → "up_blocks.1", "mid_block" →
    /// "mid"), duplicates dropped, order kept; so "mid+up1" and "mid+up_blocks.1" are one cell.
    let normaliseLayers (pattern: string) =
        let tokens =
            (if isNull pattern then "" else pattern).ToLowerInvariant().Split('+', StringSplitOptions.TrimEntries)
            |> Array.map (fun t ->
                let m = shortBlock.Match t
                if m.Success then $"{m.Groups[1].Value}_blocks.{m.Groups[2].Value}"
                elif t = "mid_block" then "mid"
                else t)
            |> Array.distinct
        if tokens.Length = 0 || tokens |> Array.exists (fun t -> not (layerToken.IsMatch t)) then
            raise (GridException $"bad guided-layer pattern '{pattern}': write block names joined by '+', e.g. \"mid\", \"mid+up_blocks.1\", \"all\"")
        if tokens.Length > 1 && Array.contains "all" tokens then
            raise (GridException $"bad guided-layer pattern '{pattern}': \"all\" already includes every layer; use it alone")
        String.Join("+", tokens)

    /// The paper's settings for SD1.5 (official code: loss scale 30, 5 iterations, threshold 0.2,
    /// guidance during the first 10 of 50 steps, CFG 7.5, mid block and the first cross-attention up
    /// block). There is no default layout: every experiment names its own.
    let defaults =
        { Model = Model.Sd15
          Guidance = Guidance.Backward
          Eta = 30.0
          Layers = "mid+up_blocks.1"
          Window = (0, 10)
          MaxIter = 5
          LossThreshold = 0.2
          Steps = 50
          Scheduler = "default"
          CfgScale = 7.5
          Resolution = None
          Seed = 0L
          Layout = { Name = ""; Prompt = ""; Phrases = [] } }

    let private finite name (v: float) =
        if Double.IsNaN v || Double.IsInfinity v then raise (GridException $"{name} must be a finite number, got {v}")

    let validateLayout (l: Layout) =
        if String.IsNullOrWhiteSpace l.Prompt then
            raise (GridException "the cell has no layout: add Axis.layouts [...] (or Layouts.fromFile) to the experiment")
        if List.isEmpty l.Phrases then raise (GridException $"layout '{l.Name}' has no phrases; give each object phrase its boxes")
        for p in l.Phrases do
            if String.IsNullOrWhiteSpace p.Text then raise (GridException $"layout '{l.Name}' has an empty phrase")
            if List.isEmpty p.Boxes then raise (GridException $"phrase '{p.Text}' of layout '{l.Name}' has no box")
            for b in p.Boxes do
                let ok (v: float) = not (Double.IsNaN v) && v >= 0.0 && v <= 1.0
                if not (ok b.X0 && ok b.Y0 && ok b.X1 && ok b.Y1 && b.X0 < b.X1 && b.Y0 < b.Y1) then
                    raise (GridException $"box [{b.X0}, {b.Y0}, {b.X1}, {b.Y1}] of phrase '{p.Text}' in layout '{l.Name}' is not [x0, y0, x1, y1] with 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1")

    /// Checks a cell and returns its canonical form: settings that cannot affect the image collapse to
    /// one value (no guidance ⇒ no η, layers, window, iterations), the window is clipped to the steps.
    let resolve (c: Cell) =
        finite "eta" c.Eta
        finite "loss threshold" c.LossThreshold
        finite "CFG scale" c.CfgScale
        if c.Steps < 1 then raise (GridException $"inference steps must be at least 1, got {c.Steps}")
        if c.MaxIter < 0 then raise (GridException $"max_iter must be 0 or more, got {c.MaxIter}")
        let s, e = c.Window
        if s < 0 || e < s then raise (GridException $"guided step window ({s},{e}) must satisfy 0 <= start <= end")
        match c.Resolution with
        | Some (w, h) when w < 8 || h < 8 || w % 8 <> 0 || h % 8 <> 0 ->
            raise (GridException $"resolution {w}x{h} must be positive multiples of 8 (the VAE downsamples by 8)")
        | _ -> ()
        if String.IsNullOrWhiteSpace c.Scheduler then raise (GridException "scheduler name is empty; use \"default\" for the model's own")
        validateLayout c.Layout
        match c.Guidance with
        | Guidance.None -> { c with Eta = 0.0; Layers = ""; Window = (0, 0); MaxIter = 0; LossThreshold = 0.0; Scheduler = c.Scheduler.Trim() }
        | _ -> { c with Layers = normaliseLayers c.Layers; Window = (min s c.Steps, min e c.Steps); Scheduler = c.Scheduler.Trim() }

    let private json = JsonSerializerOptions(Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping)

    let private boxesJson (l: Layout) =
        let box b = "[" + String.Join(",", [ b.X0; b.Y0; b.X1; b.Y1 ] |> List.map Invariant.float) + "]"
        let phrase p = "[" + String.Join(",", p.Boxes |> List.map box) + "]"
        "[" + String.Join(",", l.Phrases |> List.map phrase) + "]"

    /// The settings columns of metrics.csv for this cell, in `Columns.settings` order.
    let settings (c: Cell) =
        let s, e = c.Window
        [ "model", c.Model.Name
          "guidance", c.Guidance.Name
          "eta", Invariant.float c.Eta
          "layers", c.Layers
          "step_start", Invariant.int s
          "step_end", Invariant.int e
          "max_iter", Invariant.int c.MaxIter
          "loss_threshold", Invariant.float c.LossThreshold
          "steps", Invariant.int c.Steps
          "scheduler", c.Scheduler
          "cfg_scale", Invariant.float c.CfgScale
          "width", (match c.Resolution with Some (w, _) -> Invariant.int w | None -> "")
          "height", (match c.Resolution with Some (_, h) -> Invariant.int h | None -> "")
          "seed", Invariant.int64 c.Seed
          "layout", c.Layout.Name
          "prompt", c.Layout.Prompt
          "phrases", JsonSerializer.Serialize(c.Layout.Phrases |> List.map _.Text |> Array.ofList, json)
          "boxes", boxesJson c.Layout ]

    /// The layout stored in a metrics row (prompt, phrases and boxes columns), for galleries drawn
    /// from results alone.
    let layoutOfColumns (name: string) (prompt: string) (phrasesJson: string) (boxesJson: string) =
        let phrases = JsonSerializer.Deserialize<string[]>(phrasesJson)
        let boxes = JsonSerializer.Deserialize<float[][][]>(boxesJson)
        if isNull phrases || isNull boxes || phrases.Length <> boxes.Length then
            raise (ResultsException $"layout '{name}': phrases {phrasesJson} and boxes {boxesJson} do not pair up")
        { Name = name
          Prompt = prompt
          Phrases =
            List.init phrases.Length (fun i ->
                { Text = phrases[i]
                  Boxes = boxes[i] |> Array.map (fun b -> { X0 = b[0]; Y0 = b[1]; X1 = b[2]; Y1 = b[3] }) |> List.ofArray }) }

    /// One line naming the cell in logs: id and the settings that usually vary.
    let describe (c: Cell) =
        let g = match c.Guidance with Guidance.None -> "none" | g -> $"{g.Name} eta={Invariant.float c.Eta} layers={c.Layers}"
        $"{c.Id} {c.Model.Name} {g} seed={c.Seed} layout={c.Layout.Name}"
