/// Tensor comparisons and fixture readers shared by the parity suites.
module LayoutGuidance.Tests.TestTensors

open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open LayoutGuidance.Weights

/// |actual − expected| ≤ atol + rtol·|expected| everywhere, reporting the worst element.
let expectClose (rtol: float) (atol: float) (actual: torch.Tensor) (expected: torch.Tensor) (what: string) =
    Expect.sequenceEqual actual.shape expected.shape $"{what}: shape"
    use a = actual.detach().to_type torch.float64
    use e = expected.to_type torch.float64
    use diff = (a - e).abs()
    use bound = e.abs() * rtol + atol
    use excess = (diff - bound).flatten()
    let worst = excess.argmax().item<int64>()
    let over = excess[worst].item<float>()
    if over > 0.0 then
        use ef = e.flatten()
        use df = diff.flatten()
        failtestf "%s: element %d differs by %g (expected %g; allowed %g)" what worst (df[worst].item<float>()) (ef[worst].item<float>()) (df[worst].item<float>() - over)

/// Every parameter and persistent buffer of a module by name.
let moduleTensors (m: torch.nn.Module) =
    Seq.append
        (m.named_parameters () |> Seq.map (fun struct (name, p) -> name, (p :> torch.Tensor)))
        (m.named_buffers () |> Seq.map (fun struct (name, b) -> name, b))
    |> Map.ofSeq

/// One architecture of shared/manifests/real-architectures.json: its config, tensor shapes and parameter count.
type ArchitectureManifest = { Config: string; Tensors: Map<string, int64[]>; NumParameters: int64 }

let architecture (key: string) =
    use doc = JsonDocument.Parse(File.ReadAllText(Fixtures.path [ "manifests"; "real-architectures.json" ]))
    let entry = doc.RootElement.GetProperty key
    { Config = entry.GetProperty("config").GetRawText()
      Tensors =
        entry.GetProperty("tensors").EnumerateObject()
        |> Seq.map (fun p -> p.Name, p.Value.EnumerateArray() |> Seq.map (fun d -> d.GetInt64()) |> Seq.toArray)
        |> Map.ofSeq
      NumParameters = entry.GetProperty("num_parameters").GetInt64() }

/// The tensors of one fixture case file.
let caseTensors (parts: string list) = SafeTensorsFile.Open(Fixtures.path parts)

/// A module built on meta from a real config holds exactly the manifest's tensors, allocates nothing, and has the published parameter count.
let expectArchitecture (manifest: ArchitectureManifest) (m: torch.nn.Module) (publishedCount: int64) =
    let tensors = moduleTensors m
    Expect.isTrue (tensors |> Map.forall (fun _ t -> t.is_meta)) "nothing allocated"
    Expect.equal (Set.ofSeq tensors.Keys) (Set.ofSeq manifest.Tensors.Keys) "parameter names"
    for KeyValue (name, t) in tensors do
        Expect.sequenceEqual t.shape manifest.Tensors[name] $"shape of {name}"
    let parameters = m.parameters () |> Seq.sumBy (fun p -> p.numel ())
    Expect.equal parameters manifest.NumParameters "manifest count"
    Expect.equal parameters publishedCount "published count"
