module LayoutGuidance.Tests.SafeTensorsTests

open System.IO
open Expecto
open TorchSharp
open LayoutGuidance.Native
open LayoutGuidance.Weights

[<Tests>]
let tests =
    testList "safetensors" [
        test "a fixture file opens and its tensors load with exact shapes" {
            TorchRuntime.Initialize()
            use f = SafeTensorsFile.Open(Fixtures.path [ "tiny-sd15"; "unet"; "diffusion_pytorch_model.safetensors" ])
            let info = f.["conv_in.weight"]
            Expect.equal info.Shape [| 16L; 4L; 3L; 3L |] "conv_in shape"
            use t = f.Load "conv_in.weight"
            Expect.equal t.shape [| 16L; 4L; 3L; 3L |] "loaded shape"
        }
        test "write then read round-trips values, dtypes and metadata" {
            TorchRuntime.Initialize()
            let dir = Fixtures.tempDir ()
            let file = Path.Combine(dir, "x.safetensors")
            use a = torch.arange(12L, dtype = torch.float32).reshape(3L, 4L)
            use b = torch.tensor([| 1L; 2L; 3L |])
            use c = torch.ones(2L, dtype = torch.bfloat16)
            SafeTensorsWriter.Save(file, dict [ "a", a; "b", b; "c", c ], readOnlyDict [ "format", "pt" ])
            use f = SafeTensorsFile.Open file
            Expect.equal f.Metadata.["format"] "pt" "metadata"
            use a2 = f.Load "a"
            use b2 = f.Load "b"
            use c2 = f.Load "c"
            Expect.isTrue (a2.Equals a) "a"
            Expect.isTrue (b2.Equals b) "b"
            Expect.equal c2.dtype torch.bfloat16 "c dtype"
        }
    ]
