// Loaded by every script on its own line before prelude.fsx: fsi runs each top-level #load before
// resolving the next one's references, so this can explain a missing build where a bare #r would
// only say that a DLL is not found.
let private output =
    System.IO.Path.GetFullPath(System.IO.Path.Combine(__SOURCE_DIRECTORY__, "..", "src", "LayoutGuidance.Experiments", "bin", "Release", "net10.0", "linux-x64"))

if not (System.IO.File.Exists(System.IO.Path.Combine(output, "LayoutGuidance.Experiments.dll"))) then
    eprintfn "error: the experiments library is not built (%s is missing).\nBuild it from the repository root with:\n  dotnet build -c Release" output
    exit 1
