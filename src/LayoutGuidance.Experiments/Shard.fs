namespace LayoutGuidance.Experiments

open System

/// Shard k of n (1-based), for job arrays: every job expands the same grid and keeps its own share.
type Shard =
    { Index: int
      Count: int }

    override s.ToString() = $"{s.Index}/{s.Count}"

    /// The results sub-folder of this shard, under the experiment's folder.
    member s.FolderName = $"shard-{s.Index}-of-{s.Count}"

[<RequireQualifiedAccess>]
module Shard =
    /// "k/n" with 1 <= k <= n.
    let parse (text: string) =
        let bad () = raise (GridException $"bad shard '{text}': write k/n with 1 <= k <= n, e.g. --shard 2/8")
        match (if isNull text then "" else text).Split('/') with
        | [| k; n |] ->
            match Invariant.tryInt k, Invariant.tryInt n with
            | Some k, Some n when n >= 1 && k >= 1 && k <= n -> { Index = k; Count = n }
            | _ -> bad ()
        | _ -> bad ()

    /// The shard's cells: sorted by id and dealt round-robin, so shard sizes differ by at most one
    /// and the split depends only on the ids, never on axis order or machine.
    let select (shard: Shard) (cells: Cell list) =
        let mine = cells |> List.sortWith (fun a b -> String.CompareOrdinal(a.Id, b.Id)) |> List.indexed |> List.filter (fun (i, _) -> i % shard.Count = shard.Index - 1) |> List.map (snd >> _.Id) |> Set.ofList
        cells |> List.filter (fun c -> mine.Contains c.Id)

    /// The shard folder name's inverse: Some shard for "shard-2-of-8".
    let tryOfFolderName (name: string) =
        match name.Split('-') with
        | [| "shard"; k; "of"; n |] ->
            match Invariant.tryInt k, Invariant.tryInt n with
            | Some k, Some n when n >= 1 && k >= 1 && k <= n -> Some { Index = k; Count = n }
            | _ -> None
        | _ -> None
