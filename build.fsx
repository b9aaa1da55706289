// The project's task runner: dotnet fsi build.fsx -- <target> [args]
// Targets are thin: each is the one command a developer would otherwise type.
open System
open System.Diagnostics

let root = __SOURCE_DIRECTORY__

let run (file: string) (args: string) =
    printfn "> %s %s" file args
    let psi = ProcessStartInfo(file, args, WorkingDirectory = root)
    use p = Process.Start psi
    p.WaitForExit()
    if p.ExitCode <> 0 then exit p.ExitCode

let targets : (string * string * (string list -> unit)) list = [
    "build", "build everything (Release)", fun _ -> run "dotnet" "build LayoutGuidance.sln -c Release -nologo"
    "test", "run the test suite (extra args go to Expecto, e.g. --filter-test-list unet)", fun rest ->
        run "dotnet" ("run -c Release --project tests/LayoutGuidance.Tests -- " + String.Join(" ", rest))
    "train-toy", "train/export the toy model (tools/TrainToy: --stage vae|unet|all, --steps N, --resume, --export, --evaluate N)", fun rest ->
        run "dotnet" ("run -c Release --project tools/TrainToy -- " + String.Join(" ", rest))
    "bench", "run the performance benchmark (--quick: a couple of minutes); writes results/bench/", fun rest ->
        run "dotnet" ("run -c Release --project bench/LayoutGuidance.Bench -- " + String.Join(" ", rest))
    "clean", "remove build outputs", fun _ -> run "dotnet" "clean LayoutGuidance.sln -c Release -nologo"
]

let usage () =
    printfn "usage: dotnet fsi build.fsx -- <target> [args]\n"
    for name, doc, _ in targets do printfn "  %-12s %s" name doc

match fsi.CommandLineArgs |> Array.toList |> List.tail with
| [] | [ "--help" ] | [ "-h" ] -> usage ()
| name :: rest ->
    match targets |> List.tryFind (fun (n, _, _) -> n = name) with
    | Some (_, _, action) -> action rest
    | None ->
        eprintfn "unknown target '%s'" name
        usage ()
        exit 2
