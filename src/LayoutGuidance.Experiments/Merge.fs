namespace LayoutGuidance.Experiments

open System
open System.IO
open System.Text.Json.Nodes

type MergeSummary =
    { Folder: string
      Shards: Shard list
      /// Distinct cells in the merged metrics.csv.
      Cells: int
      /// Cells of the full grid (with --seeds applied).
      Expected: int }

/// Joins the shard folders of an experiment into its top folder: one metrics.csv, the images, one
/// manifest, gallery and report, exactly as an unsharded run would have left them.
[<RequireQualifiedAccess>]
module Merge =
    let private copyTree (source: string) (target: string) =
        if Directory.Exists source then
            Directory.CreateDirectory target |> ignore
            for f in Directory.EnumerateFiles source do
                if not (f.EndsWith ".tmp") then File.Copy(f, Path.Combine(target, Path.GetFileName f), true)

    /// Merges `<Output>/<experiment>/shard-*-of-*/` into `<Output>/<experiment>/`. Missing shards are
    /// an error unless `partial`; rows already in the top folder are kept.
    let run (options: RunOptions) (partial: bool) (e: Experiment) =
        let top = Path.Combine(options.Output, e.Name)
        let shards =
            if Directory.Exists top then
                Directory.GetDirectories top |> Array.choose (fun d -> Shard.tryOfFolderName (Path.GetFileName d) |> Option.map (fun s -> s, d)) |> Array.sortBy fst |> List.ofArray
            else []
        if shards.IsEmpty then raise (ResultsException $"{Path.GetFullPath top} has no shard-k-of-n folders to merge; run the script with --shard k/n first")
        let missing =
            [ for n in shards |> List.map (fun (s, _) -> s.Count) |> List.distinct do
                for k in 1..n do
                    if not (shards |> List.exists (fun (s, _) -> s.Count = n && s.Index = k)) then yield { Index = k; Count = n } ]
        if not missing.IsEmpty && not partial then
            raise (ResultsException $"""shard folder(s) missing under {Path.GetFullPath top}: {String.Join(", ", missing |> List.map _.FolderName)}. Wait for those jobs, or merge what exists with --partial""")
        use _lock = ExperimentLock.Acquire top
        let log = options.Log
        let own, _, _ = Runner.finishedRows top
        let tables =
            [ yield own
              for s, dir in shards do
                  let table, torn, noImage = Runner.finishedRows dir
                  if torn + noImage > 0 then log.WriteLine $"{s.FolderName}: skipped {torn + noImage} unfinished row(s)"
                  for sub in [ "images"; "heatmaps"; "traces" ] do copyTree (Path.Combine(dir, sub)) (Path.Combine(top, sub))
                  yield table ]
        let columns = tables |> List.collect _.Columns |> List.distinct
        let rows = tables |> List.collect _.Rows |> List.distinctBy (fun r -> r[Columns.cellId])
        let table = MetricsCsv.write (Path.Combine(top, Runner.metricsFile)) { Columns = columns; Rows = rows }
        let expected = (Runner.cells { options with Shard = None } e).Length
        let manifest = Manifest.read top |> Option.defaultWith (fun () -> JsonObject())
        let shardManifests = shards |> List.choose (fun (_, dir) -> Manifest.read dir)
        let agreed (key: string) =
            match shardManifests |> List.choose (fun m -> m[key] |> Option.ofObj |> Option.map string) |> List.distinct with
            | [ one ] -> one
            | [] -> "unknown"
            | many -> "mixed: " + String.Join(", ", many)
        let run = Manifest.startRun manifest (Manifest.definition e expected) { options.Settings with Device = agreed "device"; Dtype = agreed "dtype" } None "merge"
        if isNull manifest["models"] then manifest["models"] <- JsonObject()
        for m in shardManifests do
            match m["models"] with
            | :? JsonObject as models -> for KeyValue(k, v) in Seq.toList models do manifest["models"].AsObject()[k] <- v.DeepClone()
            | _ -> ()
            match m["runs"] with
            | :? JsonArray as runs ->
                // Merging again must not list the shards' runs twice.
                let known = manifest["runs"].AsArray() |> Seq.map (fun r -> r.ToJsonString()) |> Set.ofSeq
                for r in Seq.toList runs do
                    if not (known.Contains(r.ToJsonString())) then manifest["runs"].AsArray().Add(r.DeepClone())
            | _ -> ()
        run["merged_from"] <- JsonArray(shards |> List.map (fun (s, _) -> JsonValue.Create s.FolderName :> JsonNode) |> Array.ofList)
        Manifest.endRun manifest run (if missing.IsEmpty then "completed" else "partial") 0
        Manifest.write top manifest
        Runner.report e top table manifest
        log.WriteLine $"{e.Name}: merged {shards.Length} shard(s), {table.Rows.Length} of {expected} cells, into {Path.GetFullPath top}"
        { Folder = top; Shards = List.map fst shards; Cells = table.Rows.Length; Expected = expected }
