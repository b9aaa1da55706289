module LayoutGuidance.Tests.UNetTests

open System.Text.Json
open Expecto
open TorchSharp
open LayoutGuidance.Native
open LayoutGuidance.Models
open LayoutGuidance.Models.Attention
open LayoutGuidance.Models.UNet
open LayoutGuidance.Weights
open LayoutGuidance.Tests.TestTensors

let private families = [ "sd15"; "sd21"; "sdxl" ]

let private loadUNet family =
    TorchRuntime.Initialize()
    let folder = Fixtures.path [ $"tiny-{family}"; "unet" ]
    let unet = new UNet2DConditionModel(UNet2DConditionConfig.Read(System.IO.Path.Combine(folder, "config.json")))
    use checkpoint = Checkpoint.Open folder
    ModuleWeights.Load(unet, checkpoint) |> ignore
    unet.eval () |> ignore
    unet

/// The index.json entry of one family's UNet case: attention map keys in forward order.
let private mapKeys family =
    use doc = JsonDocument.Parse(System.IO.File.ReadAllText(Fixtures.path [ "cases"; "unet"; "index.json" ]))
    doc.RootElement.GetProperty("cases").EnumerateArray()
    |> Seq.find (fun c -> c.GetProperty("name").GetString() = $"{family}_unet")
    |> fun c -> c.GetProperty("attention_maps").EnumerateArray() |> Seq.map (fun m -> m.GetProperty("key").GetString()) |> Seq.toList

let private added (case: SafeTensorsFile) suffix =
    if case.Contains("text_embeds" + suffix) then Some(AddedConditions(case.Load("text_embeds" + suffix), case.Load("time_ids" + suffix))) else None

let private parity family =
    testList family [
        test "noise prediction and every cross-attention map (call A)" {
            use unet = loadUNet family
            use case = caseTensors [ "cases"; "unet"; $"{family}_unet.safetensors" ]
            let keys = mapKeys family
            Expect.equal (unet.CrossAttentionLayers |> Seq.map (fun l -> l.Path) |> Seq.toList) keys "cross-attention layers in forward order"
            use capture = new AttentionCapture(keys)
            use _ = torch.no_grad ()
            use noise = unet.forward(case.Load "sample", case.Load "timestep", case.Load "encoder_hidden_states", Option.toObj (added case ""), capture)
            expectClose 1e-3 1e-4 noise (case.Load "noise_pred") "noise_pred"
            for key in keys do
                expectClose 1e-4 1e-5 capture.Maps[key] (case.Load $"attn.{key}") key
        }
        test "fractional timestep, batch 1 (call B)" {
            use unet = loadUNet family
            use case = caseTensors [ "cases"; "unet"; $"{family}_unet.safetensors" ]
            use _ = torch.no_grad ()
            use noise = unet.forward(case.Load "sample_b", case.Load "timestep_b", case.Load "encoder_hidden_states_b", Option.toObj (added case "_b"))
            expectClose 1e-3 1e-4 noise (case.Load "noise_pred_b") "noise_pred_b"
        }
        test "early exit yields the same maps and gradient as the full pass" {
            use unet = loadUNet family
            use case = caseTensors [ "cases"; "unet"; $"{family}_unet.safetensors" ]
            let keys = mapKeys family
            let guided = [ keys |> List.find (fun k -> k.StartsWith "mid_block"); keys |> List.find (fun k -> k.StartsWith "up_blocks") ]
            let run stop =
                use latents = (case.Load "sample_b").requires_grad_(true)
                use capture = new AttentionCapture(guided, stopWhenComplete = stop)
                let noise = unet.forward(latents, case.Load "timestep_b", case.Load "encoder_hidden_states_b", Option.toObj (added case "_b"), capture)
                Expect.equal (isNull noise) stop "noise prediction only without early exit"
                use loss = capture.MapsIn(guided) |> Seq.map (fun m -> (m * m).sum()) |> Seq.reduce (+)
                let grad = torch.autograd.grad([| loss |], [| latents |])[0]
                loss.item<float32>(), grad
            let lossFull, gradFull = run false
            let lossEarly, gradEarly = run true
            Expect.floatClose Accuracy.high (float lossEarly) (float lossFull) "loss"
            expectClose 1e-5 1e-7 gradEarly gradFull "gradient"
        }
    ]

let private oddLatents =
    test "odd latent sizes (13×10) run through the explicit upsample sizes" {
        use unet = loadUNet "sd15"
        use case = caseTensors [ "cases"; "unet"; "sd15_unet.safetensors" ]
        use _ = torch.no_grad ()
        use sample = torch.randn(1L, 4L, 13L, 10L)
        use noise = unet.forward(sample, case.Load "timestep_b", case.Load "encoder_hidden_states_b")
        Expect.sequenceEqual noise.shape [| 1L; 4L; 13L; 10L |] "output keeps the input size"
        let layer = unet.CrossAttentionLayers |> Seq.find (fun l -> l.Path.StartsWith "mid_block")
        Expect.equal (layer.MapSize(13L, 10L)) (2L, 2L) "mid block map size rounds up at each downsampler"
    }

let private editedMaps =
    test "an attention edit changes what multiplies V; the capture keeps the model's own map" {
        use unet = loadUNet "sd15"
        use case = caseTensors [ "cases"; "unet"; "sd15_unet.safetensors" ]
        let path = (mapKeys "sd15") |> List.find (fun k -> k.StartsWith "mid_block")
        use _ = torch.no_grad ()
        let run edit =
            use capture = new AttentionCapture([ path ], edit = edit)
            let noise = unet.forward(case.Load "sample_b", case.Load "timestep_b", case.Load "encoder_hidden_states_b", null, capture)
            noise, capture.Maps[path].clone()
        let plain, plainMap = run null
        let uniform, uniformMap = run (System.Func<string, torch.Tensor, torch.Tensor>(fun _ p -> torch.ones_like(p) / float p.shape[2]))
        expectClose 0.0 0.0 uniformMap plainMap "captured map is the model's"
        Expect.isFalse (uniform.allclose plain) "the edited map changed the output"
    }

let private realArchitecture (key: string) (count: int64) =
    test $"{key}: names, shapes and parameter count, built on meta" {
        TorchRuntime.Initialize()
        let manifest = architecture key
        let config = JsonSerializer.Deserialize<UNet2DConditionConfig>(manifest.Config, DiffusersConfig.Options)
        use unet = (use _ = MetaDevice.Scope() in new UNet2DConditionModel(config))
        expectArchitecture manifest unet count
    }

[<Tests>]
let tests =
    testList "unet" [
        testList "parity with diffusers 0.21" (families |> List.map parity)
        oddLatents
        editedMaps
        testList "real architectures" [
            realArchitecture "unet/sd15" 859_520_964L
            realArchitecture "unet/sd21" 865_910_724L
            realArchitecture "unet/sdxl" 2_567_463_684L
        ]
        test "an unsupported config value is refused with its key" {
            let config = UNet2DConditionConfig(DownBlockTypes = [| "SimpleCrossAttnDownBlock2D"; "DownBlock2D"; "DownBlock2D"; "DownBlock2D" |])
            try
                new UNet2DConditionModel(config) |> ignore
                failtest "expected a ConfigException"
            with :? ConfigException as e ->
                Expect.stringContains e.Message "down_block_types" "names the key"
                Expect.stringContains e.Message "SimpleCrossAttnDownBlock2D" "names the value"
        }
    ]
