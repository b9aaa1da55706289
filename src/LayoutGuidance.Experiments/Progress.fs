namespace LayoutGuidance.Experiments

open System
open System.IO
open ShellProgressBar

/// Reports a run's progress: a live bar on a terminal, one plain line per cell elsewhere (CI, Slurm
/// logs), where a redrawn bar would be unreadable.
type internal Progress(total: int, log: TextWriter, bar: bool) =
    let started = Diagnostics.Stopwatch.StartNew()
    let mutable finished = 0
    let options = ProgressBarOptions(ProgressCharacter = '─', ShowEstimatedDuration = true, CollapseWhenFinished = false)
    let progressBar = if bar && total > 0 then Some(new ProgressBar(total, "starting", options)) else None

    let remaining () =
        if finished = 0 then None
        else Some(TimeSpan.FromSeconds(started.Elapsed.TotalSeconds / float finished * float (total - finished)))

    static member private Format(t: TimeSpan) = if t.TotalHours >= 1.0 then t.ToString(@"h\:mm\:ss") else t.ToString(@"m\:ss")

    /// A message that is not about one cell (loading a model, resume notes).
    member _.Note(message: string) =
        match progressBar with
        | Some b -> b.WriteLine message
        | None -> log.WriteLine message

    member _.Starting(cell: Cell) =
        match progressBar with
        | Some b ->
            let eta = remaining () |> Option.map (fun t -> $", eta {Progress.Format t}") |> Option.defaultValue ""
            b.Message <- $"{finished}/{total} done{eta}; rendering {Cell.describe cell}"
        | None -> ()

    member _.Finished(cell: Cell, seconds: float) =
        finished <- finished + 1
        let eta = remaining () |> Option.map (fun t -> $"eta {Progress.Format t}") |> Option.defaultValue ""
        match progressBar with
        | Some b ->
            let message = $"{finished}/{total} done, {eta}; last {Cell.describe cell} ({seconds:F1}s)"
            match remaining () with
            | Some t -> b.Tick(t, message)
            | None -> b.Tick message
        | None ->
            let width = string(total).Length
            log.WriteLine($"[{finished.ToString().PadLeft width}/{total}] {Cell.describe cell} {seconds:F1}s {eta}".TrimEnd())
            log.Flush()

    interface IDisposable with
        member _.Dispose() = progressBar |> Option.iter (fun b -> b.Dispose())
