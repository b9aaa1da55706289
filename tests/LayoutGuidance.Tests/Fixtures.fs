/// Where the tests find their data: the repo's copy of the reference fixtures, or LAYOUTGUIDANCE_FIXTURES.
module LayoutGuidance.Tests.Fixtures

open System
open System.IO

let repoRoot =
    let rec up (d: DirectoryInfo) =
        if isNull d then failwith "cannot find LayoutGuidance.sln above the test binary"
        elif File.Exists(Path.Combine(d.FullName, "LayoutGuidance.sln")) then d.FullName
        else up d.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

let root =
    match Environment.GetEnvironmentVariable "LAYOUTGUIDANCE_FIXTURES" with
    | null | "" -> Path.Combine(repoRoot, "tests", "fixtures")
    | p -> p

let path (parts: string list) = Path.Combine(root :: parts |> Array.ofList)

/// All of a run's scratch folders live under one root, removed when the run ends.
let private scratchRoot = Path.Combine(Path.GetTempPath(), $"lg-tests-{Environment.ProcessId}")

let tempDir () =
    let d = Path.Combine(scratchRoot, Guid.NewGuid().ToString("N"))
    Directory.CreateDirectory d |> ignore
    d

let removeScratch () =
    if Directory.Exists scratchRoot then Directory.Delete(scratchRoot, true)
