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

[<Tests>]
let configTests =
    testList "diffusers config" [
        test "bare -Infinity / NaN written by Python's json module read as doubles" {
            let file = Path.Combine(Fixtures.tempDir (), "scheduler_config.json")
            File.WriteAllText(file, """{"_class_name": "DPMSolverMultistepScheduler", "lambda_min_clipped": -Infinity, "note": "-Infinity stays text"}""")
            let cfg = DiffusersConfig.Read<LayoutGuidance.Schedulers.SchedulerConfig> file
            Expect.equal cfg.LambdaMinClipped System.Double.NegativeInfinity "lambda_min_clipped"
        }
        test "a value of the wrong type names the file and the key" {
            let file = Path.Combine(Fixtures.tempDir (), "scheduler_config.json")
            File.WriteAllText(file, """{"num_train_timesteps": "many"}""")
            try
                DiffusersConfig.Read<LayoutGuidance.Schedulers.SchedulerConfig> file |> ignore
                failtest "expected a ConfigException"
            with :? ConfigException as e ->
                Expect.stringContains e.Message file "names the file"
                Expect.stringContains e.Message "num_train_timesteps" "names the key"
        }
    ]
