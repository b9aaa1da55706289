module LayoutGuidance.Tests.VaeTests

open System.Text.Json
open Expecto
open TorchSharp
open LayoutGuidance.Native
open LayoutGuidance.Models
open LayoutGuidance.Models.Vae
open LayoutGuidance.Weights
open LayoutGuidance.Tests.TestTensors

let private loadVae family =
    TorchRuntime.Initialize()
    let folder = Fixtures.path [ $"tiny-{family}"; "vae" ]
    let vae = new AutoencoderKL(AutoencoderKLConfig.Read(System.IO.Path.Combine(folder, "config.json")))
    use checkpoint = Checkpoint.Open folder
    ModuleWeights.Load(vae, checkpoint, rename = System.Func<string, string>(DeprecatedAttentionNames.ToCurrent)) |> ignore
    vae.eval () |> ignore
    vae

let private parity family =
    test family {
        use vae = loadVae family
        use case = caseTensors [ "cases"; "vae"; $"{family}_vae.safetensors" ]
        use _ = torch.no_grad ()
        use latents = case.Load "latents"
        expectClose 1e-6 1e-7 (latents / vae.ScalingFactor) (case.Load "decoder_input") "decoder_input = latents / scaling_factor"
        use decoded = vae.Decode(case.Load "decoder_input")
        expectClose 1e-4 1e-5 decoded (case.Load "decoded") "decoded"
        use dist = vae.Encode(case.Load "image")
        expectClose 1e-4 1e-5 dist.Mean (case.Load "latent_mean") "latent mean"
        expectClose 1e-4 1e-5 dist.Std (case.Load "latent_std") "latent std"
        expectClose 1e-4 1e-5 dist.LogVar (case.Load "latent_logvar") "latent logvar"
    }

[<Tests>]
let tests =
    testList "vae" [
        testList "parity with diffusers 0.21" [ parity "sd15"; parity "sd21"; parity "sdxl" ]
        test "scaling factors come from the configs" {
            Expect.equal (AutoencoderKLConfig.Read(Fixtures.path [ "tiny-sd15"; "vae"; "config.json" ])).ScalingFactor 0.18215 "SD1.5"
            Expect.equal (AutoencoderKLConfig.Read(Fixtures.path [ "tiny-sdxl"; "vae"; "config.json" ])).ScalingFactor 0.13025 "SDXL"
        }
        test "vae/sd: names, shapes and parameter count of the real SD VAE, built on meta" {
            TorchRuntime.Initialize()
            let manifest = architecture "vae/sd"
            let config = JsonSerializer.Deserialize<AutoencoderKLConfig>(manifest.Config, DiffusersConfig.Options)
            use vae = (use _ = MetaDevice.Scope() in new AutoencoderKL(config))
            expectArchitecture manifest vae 83_653_863L
        }
    ]
