/// manifest.json: what was run, with which code, models, device and dtype, and when. Each run of the
/// same folder (first run, resumes, merges) appends to its `runs` list.
[<RequireQualifiedAccess>]
module LayoutGuidance.Experiments.Manifest

open System
open System.Diagnostics
open System.IO
open System.Reflection
open System.Text.Json
open System.Text.Json.Nodes

let fileName = "manifest.json"

/// This library's informational version (the SDK appends the commit it was built from).
let toolVersion () =
    let asm = typeof<Cell>.Assembly
    match asm.GetCustomAttribute<AssemblyInformationalVersionAttribute>() with
    | null -> string (asm.GetName().Version)
    | a -> a.InformationalVersion

/// The commit of the git work tree the script runs in, "-dirty" when it has uncommitted changes;
/// "unknown" outside a work tree or without git.
let gitCommit () =
    let git (args: string) =
        try
            let info = ProcessStartInfo("git", args, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
            use p = Process.Start info
            let out = p.StandardOutput.ReadToEnd()
            if p.WaitForExit 10000 && p.ExitCode = 0 then Some(out.Trim()) else None
        with _ -> None
    match git "rev-parse HEAD" with
    | Some sha when sha <> "" ->
        match git "status --porcelain --untracked-files=no" with
        | Some "" -> sha
        | Some _ -> sha + "-dirty"
        | None -> sha
    | _ -> "unknown"

let private str (s: string) = JsonValue.Create s :> JsonNode

/// The experiment as the script defined it: axes with their value labels, and the cell count.
let definition (e: Experiment) (cellCount: int) =
    let axes = JsonArray()
    for a in e.Axes do
        let values = JsonArray()
        for v in a.Values do values.Add(str v.Label)
        axes.Add(JsonObject(dict [ "name", str a.Name; "values", values :> JsonNode ]))
    let plots = JsonArray()
    for p in e.Plots do plots.Add(JsonObject(dict [ "x", str p.X; "y", str p.Y ]))
    JsonObject(
        dict
            [ "name", str e.Name
              "axes", axes :> JsonNode
              "filters", JsonValue.Create e.Filters.Length :> JsonNode
              "cells", JsonValue.Create cellCount :> JsonNode
              "gallery",
              (match e.Gallery with
               | Some g -> JsonObject(dict [ "rows", str g.Rows; "columns", str g.Columns; "thumb_size", JsonValue.Create g.ThumbSize :> JsonNode ]) :> JsonNode
               | None -> null)
              "plots", plots :> JsonNode ]
    )

let modelInfo (info: ModelInfo) =
    let weights = JsonObject()
    for f, h in info.WeightHashes do weights[f] <- str h
    let details = JsonObject()
    for k, v in info.Details do details[k] <- str v
    JsonObject(dict [ "folder", str info.Folder; "weights", weights :> JsonNode; "details", details :> JsonNode ])

let read (folder: string) =
    let path = Path.Combine(folder, fileName)
    if not (File.Exists path) then None
    else
        try Some(JsonNode.Parse(File.ReadAllText path).AsObject())
        with :? JsonException as e -> raise (ResultsException $"{path} is not valid JSON ({e.Message}); delete it or start over with --force")

let write (folder: string) (manifest: JsonObject) =
    let path = Path.Combine(folder, fileName)
    let options = JsonSerializerOptions(WriteIndented = true, Encoder = Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping)
    File.WriteAllText(path + ".tmp", manifest.ToJsonString options)
    File.Move(path + ".tmp", path, true)

let now () = DateTimeOffset.UtcNow.ToString("o")

/// Starts a run record: sets the top-level tool, device, dtype and times, and appends to `runs`.
let startRun (manifest: JsonObject) (experiment: JsonObject) (settings: RunSettings) (shard: Shard option) (kind: string) =
    let started = now ()
    manifest["experiment"] <- experiment
    manifest["tool"] <- JsonObject(dict [ "name", str "LayoutGuidance.Experiments"; "version", str (toolVersion ()); "git_commit", str (gitCommit ()) ])
    manifest["device"] <- str settings.Device
    manifest["dtype"] <- str settings.Dtype
    manifest["started"] <- str started
    manifest["ended"] <- null
    if isNull manifest["models"] then manifest["models"] <- JsonObject()
    if isNull manifest["runs"] then manifest["runs"] <- JsonArray()
    let run =
        JsonObject(
            dict
                [ "kind", str kind
                  "host", str Environment.MachineName
                  "pid", JsonValue.Create Environment.ProcessId :> JsonNode
                  "device", str settings.Device
                  "dtype", str settings.Dtype
                  "shard", (match shard with Some s -> str (string s) | None -> null)
                  "started", str started ]
        )
    manifest["runs"].AsArray().Add run
    run

let addModel (manifest: JsonObject) (info: ModelInfo) = manifest["models"].AsObject()[info.Model] <- modelInfo info

let endRun (manifest: JsonObject) (run: JsonObject) (status: string) (cellsRendered: int) =
    let ended = now ()
    run["ended"] <- str ended
    run["status"] <- str status
    run["cells_rendered"] <- JsonValue.Create cellsRendered
    manifest["ended"] <- str ended

/// The dtype a folder's results were made with, if it says.
let dtype (manifest: JsonObject) =
    match manifest["dtype"] with
    | null -> None
    | n -> Some(n.GetValue<string>())
