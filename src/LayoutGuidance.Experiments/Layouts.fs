/// Building layouts in scripts, and reading benchmark layout sets from JSON or CSV files.
[<RequireQualifiedAccess>]
module LayoutGuidance.Experiments.Layouts

open System
open System.Globalization
open System.IO
open System.Text.Json
open CsvHelper
open CsvHelper.Configuration

let private box (x0, y0, x1, y1) = { X0 = x0; Y0 = y0; X1 = x1; Y1 = y1 }

/// A phrase with one or more boxes, each (x0, y0, x1, y1) in [0, 1].
let phrase (text: string) (boxes: (float * float * float * float) list) = { Text = text; Boxes = List.map box boxes }

/// A named layout; throws GridException naming the layout when a box or phrase is malformed.
let create (name: string) (prompt: string) (phrases: Phrase list) =
    let l = { Name = name; Prompt = prompt; Phrases = phrases }
    if String.IsNullOrWhiteSpace name then raise (GridException $"layout for prompt '{prompt}' needs a name")
    Cell.validateLayout l
    l

/// The common case of one box per phrase: `Layouts.boxes "kitty" "A hello kitty ..." [ "hello kitty", (0.1, 0.2, 0.5, 0.8) ]`.
let boxes (name: string) (prompt: string) (phrases: (string * (float * float * float * float)) list) =
    create name prompt (phrases |> List.map (fun (text, b) -> phrase text [ b ]))

/// The example of the paper's official code release.
let helloKitty =
    boxes "hello-kitty" "A hello kitty toy is playing with a purple ball." [ "hello kitty", (0.1, 0.2, 0.5, 0.8); "ball", (0.75, 0.6, 0.95, 0.8) ]

let demo = [ helloKitty ]

let private fail (path: string) (what: string) =
    raise (GridException $"{path}: {what}")

/// A benchmark layout set (`{ "layouts": [ { "id", "prompt", "phrases": [...], "boxes": [...] } ] }`,
/// read by `LayoutSet`), one box per phrase, named by id.
let private fromLayoutSet (path: string) =
    let specs =
        try LayoutGuidance.Evaluation.LayoutSet.Read path
        with :? LayoutGuidance.Evaluation.LayoutSetException as e -> raise (GridException e.Message)
    [ for s in specs ->
        let phrases = [ for text, b in Seq.zip s.Phrases s.Boxes -> { Text = text; Boxes = [ box (b.X0, b.Y0, b.X1, b.Y1) ] } ]
        let layout = { Name = s.Id; Prompt = s.Prompt; Phrases = phrases }
        try Cell.validateLayout layout with :? GridException as e -> fail path e.Message
        layout ]

let private parse (path: string) =
    try JsonDocument.Parse(File.ReadAllText path, JsonDocumentOptions(CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true))
    with :? JsonException as e -> fail path $"not valid JSON ({e.Message})"

let private fromLayoutArray (path: string) (root: JsonElement) =
    if root.ValueKind <> JsonValueKind.Array then fail path "expected a JSON array of layouts, or an object with a \"layouts\" array"
    [ for i, l in root.EnumerateArray() |> Seq.indexed do
        let where = $"layout #{i + 1}"
        let str (e: JsonElement) (key: string) =
            match e.TryGetProperty key with
            | true, v when v.ValueKind = JsonValueKind.String -> Some(v.GetString())
            | true, _ -> fail path $"{where}: '{key}' must be a string"
            | _ -> None
        let prompt = str l "prompt" |> Option.defaultWith (fun () -> fail path $"{where} has no \"prompt\"")
        let name = str l "name" |> Option.defaultValue $"L{i + 1}"
        let phrases =
            match l.TryGetProperty "phrases" with
            | true, ps when ps.ValueKind = JsonValueKind.Array ->
                [ for p in ps.EnumerateArray() do
                    let text = str p "text" |> Option.defaultWith (fun () -> fail path $"{where}: a phrase has no \"text\"")
                    let boxes =
                        match p.TryGetProperty "boxes" with
                        | true, bs when bs.ValueKind = JsonValueKind.Array ->
                            [ for b in bs.EnumerateArray() do
                                let v =
                                    if b.ValueKind = JsonValueKind.Array then b.EnumerateArray() |> Seq.map (fun x -> x.GetDouble()) |> Array.ofSeq
                                    else [||]
                                if v.Length <> 4 then fail path $"{where}, phrase '{text}': a box must be [x0, y0, x1, y1]"
                                { X0 = v[0]; Y0 = v[1]; X1 = v[2]; Y1 = v[3] } ]
                        | _ -> fail path $"{where}, phrase '{text}': \"boxes\" must be an array of [x0, y0, x1, y1]"
                    { Text = text; Boxes = boxes } ]
            | _ -> fail path $"{where} has no \"phrases\" array"
        let layout = { Name = name; Prompt = prompt; Phrases = phrases }
        try Cell.validateLayout layout with :? GridException as e -> fail path e.Message
        layout ]

/// JSON: `[ { "name": "kitty", "prompt": "...", "phrases": [ { "text": "hello kitty", "boxes": [[x0,y0,x1,y1], ...] } ] } ]`,
/// a missing name becoming L1, L2, ... by position; or a benchmark layout set, an object whose
/// "layouts" hold `{ "id", "prompt", "phrases": ["..."], "boxes": [[x0,y0,x1,y1], ...] }`.
let fromJson (path: string) =
    use doc = parse path
    if doc.RootElement.ValueKind = JsonValueKind.Object && fst (doc.RootElement.TryGetProperty "layouts") then fromLayoutSet path
    else fromLayoutArray path doc.RootElement

/// CSV: one row per box with columns prompt, phrase, x0, y0, x1, y1 and optionally layout (the name).
/// Rows group into layouts by name (else by prompt) and into phrases by text, in file order; a phrase
/// with several boxes has several rows.
let fromCsv (path: string) =
    use reader = new StreamReader(path)
    use csv = new CsvReader(reader, CsvConfiguration(CultureInfo.InvariantCulture, TrimOptions = TrimOptions.Trim))
    if not (csv.Read() && csv.ReadHeader()) then fail path "is empty; expected a header row prompt,phrase,x0,y0,x1,y1"
    let header = csv.HeaderRecord |> Array.map (fun h -> h.Trim().ToLowerInvariant())
    for needed in [ "prompt"; "phrase"; "x0"; "y0"; "x1"; "y1" ] do
        if not (Array.contains needed header) then fail path $"has no '{needed}' column (header: {String.Join(',', header)})"
    let col name = Array.IndexOf(header, name)
    let named = Array.contains "layout" header
    let rows = ResizeArray()
    while csv.Read() do
        let line = csv.Parser.Row
        let get name = csv.GetField(col name)
        let num name =
            match Invariant.tryFloat (get name) with
            | Some v -> v
            | None -> fail path $"row {line}: {name} '{get name}' is not a number"
        let key = if named then get "layout" else get "prompt"
        rows.Add(key, get "prompt", get "phrase", { X0 = num "x0"; Y0 = num "y0"; X1 = num "x1"; Y1 = num "y1" }, line)
    let layouts =
        rows
        |> Seq.groupBy (fun (key, _, _, _, _) -> key)
        |> Seq.mapi (fun i (key, group) ->
            let group = List.ofSeq group
            let _, prompt, _, _, firstLine = group.Head
            for _, p, _, _, line in group do
                if p <> prompt then fail path $"row {line}: layout '{key}' has two prompts ('{prompt}' on row {firstLine} and '{p}')"
            let phrases =
                group
                |> List.groupBy (fun (_, _, phrase, _, _) -> phrase)
                |> List.map (fun (text, rs) -> { Text = text; Boxes = rs |> List.map (fun (_, _, _, b, _) -> b) })
            let layout = { Name = (if named then key else $"L{i + 1}"); Prompt = prompt; Phrases = phrases }
            try Cell.validateLayout layout with :? GridException as e -> fail path e.Message
            layout)
        |> List.ofSeq
    if layouts.IsEmpty then fail path "has a header but no layout rows"
    layouts

/// A layout file by extension: .json or .csv.
let fromFile (path: string) =
    if not (File.Exists path) then raise (GridException $"layout file {Path.GetFullPath path} does not exist")
    match Path.GetExtension(path).ToLowerInvariant() with
    | ".json" -> fromJson path
    | ".csv" -> fromCsv path
    | ext -> fail path $"unknown layout file type '{ext}': use .json or .csv"
