module LayoutGuidance.Tests.ExperimentReportTests

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open Expecto
open SixLabors.ImageSharp
open SixLabors.ImageSharp.PixelFormats
open LayoutGuidance.Experiments
open LayoutGuidance.Tests.ExperimentRenderer

let private grid =
    Experiment.create "report" [
        Axis.eta [ 0.0; 10.0; 60.0 ]
        Axis.layouts [ Layouts.helloKitty ]
        Axis.firstSeeds 2
    ]
    |> Experiment.gallery "eta" "seed"

let private render () =
    let root = Fixtures.tempDir ()
    let summary = Runner.run (RectRenderer()) { RunOptions.defaults with Output = root; Log = new StringWriter(); ProgressBar = false } grid
    summary.Folder

let private chromium () =
    let onPath =
        (Environment.GetEnvironmentVariable "PATH").Split(':')
        |> Array.collect (fun d -> [| Path.Combine(d, "chromium"); Path.Combine(d, "chromium-browser") |])
        |> Array.tryFind File.Exists
    match onPath with
    | Some p -> p
    | None -> failtest "headless Chromium is needed to check index.html: install it with `apt-get install -y chromium` (.ci/run does)"

/// The page's DOM after its scripts ran and its images loaded (or failed).
let private dumpDom (url: string) =
    let profile = Fixtures.tempDir ()
    let info = ProcessStartInfo(chromium (), RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
    for a in [ "--headless"; "--no-sandbox"; "--disable-gpu"; "--disable-background-networking"; "--disable-component-update"
               "--no-first-run"; "--disable-sync"; $"--user-data-dir={profile}"; "--virtual-time-budget=10000"; "--dump-dom"; url ] do
        info.ArgumentList.Add a
    use p = Process.Start info
    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()
    if not (p.WaitForExit 90000) then
        p.Kill true
        failtest $"chromium did not finish within 90 s on {url}"
    let dom = out.Result
    if String.IsNullOrWhiteSpace dom then failtest $"chromium printed no DOM (exit {p.ExitCode}): {err.Result}"
    dom

let private attribute (dom: string) (id: string) (name: string) =
    let tag = Regex.Match(dom, $"<[a-z]+ [^>]*id=\"{id}\"[^>]*>")
    Expect.isTrue tag.Success $"element #{id} in the DOM"
    let m = Regex.Match(tag.Value, $"{name}=\"([^\"]*)\"")
    Expect.isTrue m.Success $"#{id} has {name}"
    m.Groups[1].Value

/// Body rows of the metrics table as cell texts (first cell is the thumbnail).
let private tableRows (dom: string) =
    let body = Regex.Match(dom, "<table id=\"metrics\">.*?<tbody>(.*?)</tbody>", RegexOptions.Singleline)
    Expect.isTrue body.Success "metrics table body"
    [ for r in Regex.Matches(body.Groups[1].Value, "<tr>(.*?)</tr>", RegexOptions.Singleline) ->
        [ for c in Regex.Matches(r.Groups[1].Value, "<td>(.*?)</td>", RegexOptions.Singleline) -> c.Groups[1].Value ] ]

let private headers (dom: string) =
    [ for m in Regex.Matches(dom, "<th(?: [^>]*)?>(.*?)</th>", RegexOptions.Singleline) -> m.Groups[1].Value ]

let private url (folder: string) = Uri(Path.Combine(Path.GetFullPath folder, "index.html")).AbsoluteUri

[<Tests>]
let tests =
    testList "experiments" [
        testList "report" [
            test "index.html in headless Chromium: every image loads and the table has one row per cell" {
                let folder = render ()
                let dom = dumpDom (url folder)
                let plots = Directory.GetFiles(Path.Combine(folder, "plots"), "*.png").Length
                Expect.isGreaterThanOrEqual plots 2 "in-box ratio and loss plots"
                Expect.equal (attribute dom "image-status" "data-failed") "0" "no image failed"
                Expect.equal (attribute dom "image-status" "data-loaded") (string (1 + plots + 6)) "gallery, plots and six thumbnails loaded"
                let rows = tableRows dom
                Expect.equal rows.Length 6 "one row per cell"
                Expect.equal (headers dom |> List.take 3) [ "image"; Columns.cellId; "model" ] "header row"
            }
            test "a missing image is reported on the page" {
                let folder = render ()
                let any = Directory.GetFiles(Path.Combine(folder, "images")) |> Array.head
                File.Delete any
                let dom = dumpDom (url folder)
                Expect.equal (attribute dom "image-status" "data-failed") "1" "one failed image"
                Expect.stringContains dom (Path.GetFileName any) "the page names it"
            }
            test "sorting by a column through the address orders the rows" {
                let folder = render ()
                let dom = dumpDom (url folder + "#sort=-eta")
                let etaColumn = headers dom |> List.findIndex (fun h -> h.StartsWith "eta")
                let etas = tableRows dom |> List.map (fun r -> float r[etaColumn])
                Expect.equal etas [ 60.0; 60.0; 10.0; 10.0; 0.0; 0.0 ] "descending η"
            }
            test "the gallery draws thumbnails with boxes in phrase colours and captions" {
                let folder = render ()
                use gallery = Image.Load<Rgb24>(Path.Combine(folder, "gallery.png"))
                let pixels = [ for y in 0 .. gallery.Height - 1 do for x in 0 .. gallery.Width - 1 -> gallery[x, y] ]
                let count (c: Rgb24) = pixels |> List.filter ((=) c) |> List.length
                Expect.isGreaterThan (count (Rgb24(0x1fuy, 0x77uy, 0xb4uy))) 100 "first phrase's box colour"
                Expect.isGreaterThan (count (Rgb24(0xffuy, 0x7fuy, 0x0euy))) 50 "second phrase's box colour"
                let labelColumn = [ for y in 0 .. gallery.Height - 1 do for x in 0 .. 120 -> gallery[x, y] ]
                Expect.isGreaterThan (labelColumn |> List.filter (fun p -> p.R < 100uy && p.G < 100uy && p.B < 100uy) |> List.length) 50 "row captions are drawn"
            }
            test "η rows are in numeric order, and an unguided image is the η = 0 row of the guided sections" {
                let row guidance eta seed =
                    Map [ "guidance", guidance; "eta", eta; "seed", seed; "layers", (if guidance = "none" then "" else "mid"); "layout", "k" ]
                let rows =
                    [ row "none" "0" "0"; row "none" "0" "1"
                      for eta in [ "1"; "0.5"; "10"; "3" ] do
                          row "backward" eta "0"; row "backward" eta "1"
                      row "forward" "1" "0"; row "forward" "0.5" "1" ]
                let sections, folded = Gallery.plan { Rows = "eta"; Columns = "seed"; ThumbSize = 64 } rows
                Expect.isTrue folded "unguided images folded in"
                let byGuidance = sections |> List.map (fun (key, _, rowValues, _) -> (key |> List.find (fst >> (=) "guidance") |> snd), rowValues)
                Expect.equal byGuidance [ "backward", [ "0"; "0.5"; "1"; "3"; "10" ]; "forward", [ "0"; "0.5"; "1" ] ] "no unguided section; η = 0 first, numeric order"
                let backwardCells = sections |> List.pick (fun (key, cells, _, _) -> if List.contains ("guidance", "backward") key then Some cells else None)
                Expect.equal (backwardCells |> List.filter (fun r -> r["guidance"] = "none") |> List.length) 2 "both seeds' unguided images"
                let bySeed, _ = Gallery.plan { Rows = "seed"; Columns = "eta"; ThumbSize = 64 } rows
                Expect.isTrue (bySeed |> List.exists (fun (key, _, _, _) -> List.contains ("guidance", "none") key)) "other layouts keep the unguided section"
            }
            test "plots against η draw one line per guidance mode, each starting from the unguided mean" {
                let row guidance eta y = Map [ "model", "toy"; "guidance", guidance; "eta", eta; "score", y ]
                let rows = [ row "none" "0" "0.2"; row "none" "0" "0.4"; row "backward" "10" "0.8"; row "backward" "1" "0.5"; row "forward" "1" "0.3" ]
                let lines, _, numeric = Plots.series { X = "eta"; Y = "score" } rows
                Expect.isTrue numeric "η is numeric"
                Expect.equal lines [ "toy backward", [ 0.0, 0.30000000000000004; 1.0, 0.5; 10.0, 0.8 ]; "toy forward", [ 0.0, 0.30000000000000004; 1.0, 0.3 ] ] "lines"
                let single, _, _ = Plots.series { X = "eta"; Y = "score" } (rows |> List.filter (fun r -> r["guidance"] = "backward"))
                Expect.equal (single |> List.map fst) [ "toy" ] "one mode: one line per model"
            }
            test "a missing font fails with the package to install" {
                let e = caught<MissingFontException> (fun () -> Fonts.loadFrom "/nonexistent/DejaVuSans.ttf" |> ignore)
                Expect.stringContains e.Message "apt-get install -y fonts-dejavu-core" "names the package"
            }
        ]
    ]
