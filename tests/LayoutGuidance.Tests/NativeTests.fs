module LayoutGuidance.Tests.NativeTests

open System.Diagnostics
open System.IO
open Expecto
open TorchSharp
open LayoutGuidance.Native

let private readelfFlags (lib: string) =
    let psi = ProcessStartInfo("readelf", $"-V {lib}", RedirectStandardOutput = true)
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEnd()
    p.WaitForExit()
    out.Split('\n') |> Array.tryFind (fun l -> l.Contains "Name: GLIBCXX_3.4.32")

let private msbuildWeaken (lib: string) (libstdcxx: string) =
    let targets = Path.Combine(Fixtures.repoRoot, "build", "LayoutGuidance.Native.targets")
    let psi = ProcessStartInfo("dotnet", $"msbuild \"{targets}\" -nologo -v:n -t:WeakenLibrary -p:Library=\"{lib}\" -p:SystemLibStdCxx=\"{libstdcxx}\"",
                               RedirectStandardOutput = true)
    use p = Process.Start psi
    let out = p.StandardOutput.ReadToEnd()
    p.WaitForExit()
    Expect.equal p.ExitCode 0 $"msbuild failed:\n{out}"
    out

[<Tests>]
let tests =
    testList "native libraries" [
        test "TorchSharp loads from the build output and computes" {
            TorchRuntime.Initialize()
            use x = torch.ones(2L, 3L)
            Expect.equal (x.sum().item<float32>()) 6.0f "sum of ones"
        }
        test "libtorch comes from the build output, not from the system" {
            TorchRuntime.Initialize()
            let maps = File.ReadAllLines "/proc/self/maps"
            let libtorch = maps |> Array.filter (fun l -> l.EndsWith "/libtorch_cpu.so") |> Array.map (fun l -> l.Substring(l.LastIndexOf ' ' + 1)) |> Array.distinct
            Expect.equal libtorch [| Path.Combine(TorchRuntime.NativeDirectory, "libtorch_cpu.so") |] "one libtorch_cpu, the packaged one"
        }
        test "manual_seed + randn reproduces PyTorch's CPU generator" {
            TorchRuntime.Initialize()
            torch.manual_seed 0L |> ignore
            use x = torch.randn(10L)
            let v = x.data<float32>().ToArray()
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } (float v[0]) 1.5410 "x[0]"
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } (float v[1]) -0.2934 "x[1]"
            Expect.floatClose { absolute = 1e-4; relative = 0.0 } (float v[2]) -2.1788 "x[2]"
        }
        testList "GLIBCXX_3.4.32 need of libLibTorchSharp.so" [
            let packaged = Path.Combine(TorchRuntime.NativeDirectory, "libLibTorchSharp.so")
            let oldLibStdCxx () =
                // A stand-in libstdc++ that lacks the version, so the test means the same on any machine.
                let f = Path.Combine(Fixtures.tempDir (), "libstdc++.so.6")
                File.WriteAllText(f, "GLIBCXX_3.4.30\000")
                f
            let pristineCopy () =
                let nuget = Path.Combine(System.Environment.GetFolderPath System.Environment.SpecialFolder.UserProfile, ".nuget", "packages", "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so")
                let src = match System.Environment.GetEnvironmentVariable "NUGET_PACKAGES" with
                          | null | "" -> nuget
                          | root -> Path.Combine(root, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so")
                let dst = Path.Combine(Fixtures.tempDir (), "libLibTorchSharp.so")
                File.Copy(src, dst)
                dst
            test "the package's copy has a strong need; the build weakens it, idempotently" {
                let lib = pristineCopy ()
                Expect.isFalse ((readelfFlags lib).Value.Contains "WEAK") "pristine copy is strong"
                let first = msbuildWeaken lib (oldLibStdCxx ())
                Expect.stringContains first "weakened" "first run patches"
                Expect.isTrue ((readelfFlags lib).Value.Contains "WEAK") "now weak"
                let bytes = File.ReadAllBytes lib
                let second = msbuildWeaken lib (oldLibStdCxx ())
                Expect.stringContains second "already weak" "second run is a no-op"
                Expect.equal (File.ReadAllBytes lib) bytes "unchanged by the second run"
            }
            test "nothing is touched when the system libstdc++ has the version" {
                let lib = pristineCopy ()
                let modern = Path.Combine(Fixtures.tempDir (), "libstdc++.so.6")
                File.WriteAllText(modern, "GLIBCXX_3.4.32\000")
                let before = File.ReadAllBytes lib
                msbuildWeaken lib modern |> ignore
                Expect.equal (File.ReadAllBytes lib) before "untouched"
            }
            test "the copy the project loads carries the weak flag on this machine when needed" {
                let system = File.ReadAllBytes "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"
                let hasVersion = System.Text.Encoding.ASCII.GetString(system).Contains "GLIBCXX_3.4.32\000"
                let flags = (readelfFlags packaged).Value
                if not hasVersion then Expect.stringContains flags "WEAK" "build output patched"
            }
        ]
    ]
