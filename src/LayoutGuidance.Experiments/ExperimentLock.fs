namespace LayoutGuidance.Experiments

open System
open System.Diagnostics
open System.IO
open System.Text.Json

/// Who holds a results folder: written into its `.lock` file.
type LockHolder =
    { Pid: int
      Host: string
      /// Process start time (UTC ticks): tells a live holder from a new process that reused its pid.
      ProcessStart: int64
      /// The batch job the holder ran in (SLURM_JOB_ID), if any: a requeued job finds its own
      /// earlier lock on another host and may take it, since one job never runs twice at once.
      Job: string
      Acquired: DateTimeOffset }

/// Exclusive right to write one results folder, released on Dispose. Two runners on the same
/// experiment (or the same shard) would interleave rows and overwrite each other's images.
type ExperimentLock private (path: string, holder: LockHolder) =
    static let fileName = ".lock"

    static let current () =
        use p = Process.GetCurrentProcess()
        { Pid = p.Id
          Host = Environment.MachineName
          ProcessStart = p.StartTime.ToUniversalTime().Ticks
          Job = Environment.GetEnvironmentVariable "SLURM_JOB_ID"
          Acquired = DateTimeOffset.UtcNow }

    static let tryRead (path: string) =
        try Some(JsonSerializer.Deserialize<LockHolder>(File.ReadAllText path))
        with :? IOException | :? JsonException -> None

    /// On this host: a process with that pid, started when the holder says it did. On another host
    /// it cannot be checked, unless the holder was an earlier run of this same batch job (requeued).
    static let alive (h: LockHolder) =
        if h.Host <> Environment.MachineName then
            String.IsNullOrEmpty h.Job || h.Job <> Environment.GetEnvironmentVariable "SLURM_JOB_ID"
        else
            try
                use p = Process.GetProcessById h.Pid
                p.HasExited |> not && p.StartTime.ToUniversalTime().Ticks = h.ProcessStart
            with
            | :? ArgumentException -> false
            | :? InvalidOperationException -> false

    member _.Path = path
    member _.Holder = holder

    /// Takes the lock of `folder`, replacing a stale one (its holder's process is gone). Throws
    /// ExperimentLockedException naming the lock file and the holder when a live runner has it.
    static member Acquire(folder: string) =
        Directory.CreateDirectory folder |> ignore
        let path = Path.Combine(Path.GetFullPath folder, fileName)
        let me = current ()
        let rec attempt tries =
            try
                use f = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None)
                JsonSerializer.Serialize(f, me)
                new ExperimentLock(path, me)
            with :? IOException when File.Exists path ->
                if tries = 0 then raise (ExperimentLockedException $"{path} could not be taken: it was re-created by another process each time it was found stale")
                match tryRead path with
                | Some h when alive h ->
                    let where = if h.Host = me.Host then $"pid {h.Pid} on this host ({h.Host})" else $"pid {h.Pid} on host {h.Host}"
                    raise (
                        ExperimentLockedException(
                            $"{path} is held by {where} since {h.Acquired:u}: another runner is writing this experiment. "
                            + "Wait for it, or write elsewhere (--out, --shard). "
                            + (if h.Host = me.Host then "" else "If that job is gone, delete the lock file.")
                        )
                    )
                | Some _ ->
                    // Stale. Renaming is atomic, so of two runners recovering it at once only one wins.
                    try File.Move(path, $"{path}.stale-{me.Pid}") ; File.Delete $"{path}.stale-{me.Pid}" with :? IOException -> ()
                    attempt (tries - 1)
                | None when (DateTime.UtcNow - File.GetLastWriteTimeUtc path) > TimeSpan.FromSeconds 10.0 ->
                    // Unreadable and old: its writer died between creating and filling it.
                    try File.Move(path, $"{path}.stale-{me.Pid}") ; File.Delete $"{path}.stale-{me.Pid}" with :? IOException -> ()
                    attempt (tries - 1)
                | None ->
                    Threading.Thread.Sleep 200
                    attempt (tries - 1)
        attempt 20

    interface IDisposable with
        member _.Dispose() =
            match tryRead path with
            | Some h when h = holder -> File.Delete path
            | _ -> ()
