// Runs before prelude.fsx references the build output: fsi resolves a missing #r before any code
// could explain it, so this check lives in its own file, which fsi runs first.
let private output =
    System.IO.Path.GetFullPath(System.IO.Path.Combine(__SOURCE_DIRECTORY__, "..", "src", "LayoutGuidance.Experiments", "bin", "Release", "net10.0", "linux-x64"))

if not (System.IO.File.Exists(System.IO.Path.Combine(output, "LayoutGuidance.Experiments.dll"))) then
    eprintfn "error: the experiments library is not built (%s is missing).\nBuild it from the repository root with:\n  dotnet build -c Release" output
    exit 1
