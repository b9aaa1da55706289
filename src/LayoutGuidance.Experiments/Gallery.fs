/// gallery.png: thumbnails laid out by two settings, with the layout boxes drawn in phrase colours.
[<RequireQualifiedAccess>]
module LayoutGuidance.Experiments.Gallery

open System
open System.IO
open SixLabors.ImageSharp
open SixLabors.ImageSharp.PixelFormats
open SixLabors.ImageSharp.Processing

/// Settings a gallery can be laid out by (the per-cell settings columns, minus the layout's parts).
let keys =
    [ "model"; "guidance"; "eta"; "layers"; "step_start"; "step_end"; "max_iter"; "loss_threshold"; "steps"
      "scheduler"; "cfg_scale"; "width"; "height"; "seed"; "layout" ]

let checkKey (what: string) (key: string) =
    if not (List.contains key keys) then
        raise (GridException $"""gallery {what} '{key}' is not a setting; use one of {String.Join(", ", keys)}""")

let private value (row: Map<string, string>) key = row.TryFind key |> Option.defaultValue ""

/// Settings that only guidance has; an unguided cell leaves them empty or zero.
let private guidanceKeys = set [ "guidance"; "eta"; "layers"; "step_start"; "step_end"; "max_iter"; "loss_threshold" ]

let private varying (rows: Map<string, string> list) =
    keys |> List.filter (fun k -> rows |> List.map (fun r -> value r k) |> List.distinct |> List.length > 1)

/// The script's choice, or: rows = the first varying setting other than the seed, columns = seeds
/// when they vary (else the next varying setting).
let resolve (spec: GallerySpec option) (rows: Map<string, string> list) =
    match spec with
    | Some s -> s
    | None ->
        let v = varying rows
        let rowsKey = v |> List.tryFind ((<>) "seed") |> Option.defaultValue "layout"
        let colsKey =
            if List.contains "seed" v then "seed"
            else v |> List.tryFind ((<>) rowsKey) |> Option.defaultValue (if rowsKey = "seed" then "layout" else "seed")
        { Rows = rowsKey; Columns = colsKey; ThumbSize = 160 }

let private white = Rgb24(255uy, 255uy, 255uy)
let private black = Rgb24(20uy, 20uy, 20uy)
let private grey = Rgb24(110uy, 110uy, 110uy)

/// The gallery's sections: per combination of the other varying settings, its title key, its cells,
/// its row values and its column values. Also whether unguided images were folded in as η = 0 rows.
let plan (spec: GallerySpec) (rows: Map<string, string> list) =
    checkKey "rows" spec.Rows
    checkKey "columns" spec.Columns
    let other = varying rows |> List.filter (fun k -> k <> spec.Rows && k <> spec.Columns)
    // Numbers (η, seeds, steps) in numeric order, anything else in the order of the table.
    let ordered (cells: Map<string, string> list) key =
        let values = cells |> List.map (fun r -> value r key) |> List.distinct
        match values |> List.map Invariant.tryFloat with
        | numbers when numbers |> List.forall Option.isSome -> List.zip values numbers |> List.sortBy snd |> List.map fst
        | _ -> values
    let grouped = rows |> List.groupBy (fun r -> other |> List.map (fun k -> k, value r k))
    let unguided (row: Map<string, string>) = value row "guidance" = "none"
    let isUnguided (cells: Map<string, string> list) = cells |> List.forall unguided
    // With η as the rows, an unguided image is the η = 0 row of every guided section with the same
    // model, layout, seed, ...: the sweep then starts from the picture guidance changes.
    let unguidedRows = spec.Rows = "eta" && grouped |> List.exists (snd >> isUnguided) && grouped |> List.exists (snd >> isUnguided >> not)
    let sameImageSettings (key: (string * string) list) (row: Map<string, string>) =
        key |> List.forall (fun (k, v) -> guidanceKeys.Contains k || value row k = v)
    let adopted (key: (string * string) list) =
        if unguidedRows && key |> List.exists (fun (k, v) -> k = "guidance" && v <> "none") then
            rows |> List.filter (fun r -> unguided r && sameImageSettings key r)
        else []
    let withAdopted = grouped |> List.map (fun (key, cells) -> key, cells, adopted key)
    let adoptedAnywhere = withAdopted |> List.collect (fun (_, _, a) -> a) |> Set.ofList
    // Each section lists only the rows and columns it has, in the order of the whole table, so sections
    // of a sweep line up.
    let sections =
        withAdopted
        |> List.choose (fun (key, cells, extra) ->
            if isUnguided cells && cells |> List.forall adoptedAnywhere.Contains then None
            else
                let cells = extra @ cells
                let keep key = ordered rows key |> List.filter (fun v -> cells |> List.exists (fun r -> value r key = v))
                Some(key, cells, keep spec.Rows, keep spec.Columns))
    sections, unguidedRows

/// Draws the gallery of `rows` (metrics rows whose images live under `folder`) into `path`.
let render (spec: GallerySpec) (folder: string) (rows: Map<string, string> list) (path: string) =
    let sections, unguidedRows = plan spec rows
    let maxCols = sections |> List.map (fun (_, _, _, cols) -> cols.Length) |> List.max
    // Keep the picture within ~64 Mpx however large the grid: thumbnails shrink, never below 48 px.
    let thumb =
        let cells = max 1 (sections |> List.sumBy (fun (_, _, rs, _) -> rs.Length * maxCols))
        max 48 (min spec.ThumbSize (int (sqrt (64e6 / float cells)) - 40))
    let pad, labelWidth, caption, header = 8, 130, 18, 22
    let titleHeight = 2 * header
    let sectionHeight (rowCount: int) = titleHeight + header + rowCount * (thumb + caption + pad)
    let tops = sections |> List.scan (fun top (_, _, rs, _) -> top + sectionHeight rs.Length + pad) pad
    let width = labelWidth + maxCols * (thumb + pad) + pad
    let height = List.last tops
    use canvas = new Image<Rgb24>(width, height, white)
    let write (s: string) size colour maxWidth x y =
        use t = Pictures.text s size colour maxWidth
        Pictures.paste canvas t x y
        t.Width
    for (key, cells, rowValues, colValues), top in List.zip sections (List.take sections.Length tops) do
        let title = if key.IsEmpty then "all cells" else String.Join("   ", key |> List.map (fun (k, v) -> $"{k}={v}"))
        write title 14.0f black (width - 2 * pad) pad top |> ignore
        let prompts = cells |> List.map (fun r -> value r "prompt") |> List.distinct
        if prompts.Length = 1 then write prompts.Head 12.0f grey (width - 2 * pad) pad (top + header) |> ignore
        for ci, c in List.indexed colValues do
            write $"{spec.Columns}={c}" 12.0f black thumb (labelWidth + ci * (thumb + pad)) (top + titleHeight) |> ignore
        for ri, r in List.indexed rowValues do
            let y = top + titleHeight + header + ri * (thumb + caption + pad)
            let label = if unguidedRows && r = "0" then "eta=0 (none)" else $"{spec.Rows}={r}"
            write label 12.0f black (labelWidth - pad) pad (y + thumb / 2 - 8) |> ignore
            for ci, c in List.indexed colValues do
                let x = labelWidth + ci * (thumb + pad)
                match cells |> List.tryFind (fun row -> value row spec.Rows = r && value row spec.Columns = c) with
                | None -> ()
                | Some row ->
                    let file = Path.Combine(folder, value row Columns.image)
                    if File.Exists file then
                        use img = Pictures.load file
                        let scale = float thumb / float (max img.Width img.Height)
                        img.Mutate(fun ctx -> ctx.Resize(max 1 (int (float img.Width * scale)), max 1 (int (float img.Height * scale))) |> ignore)
                        let layout = Cell.layoutOfColumns (value row "layout") (value row "prompt") (value row "phrases") (value row "boxes")
                        Pictures.drawBoxes img layout 2
                        Pictures.paste canvas img (x + (thumb - img.Width) / 2) y
                        let mutable cx = x
                        for pi, p in List.indexed layout.Phrases do
                            let room = x + thumb - cx
                            if room > 12 then cx <- cx + write p.Text 11.0f (Pictures.phraseColour pi) room cx (y + img.Height + 2) + 6
                    else
                        write "image missing" 11.0f grey thumb x (y + thumb / 2) |> ignore
    Pictures.savePng path canvas
