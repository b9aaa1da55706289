module LayoutGuidance.Tests.ToyModelTests

open System
open System.IO
open System.Security.Cryptography
open System.Text.Json
open Expecto
open TorchSharp
open LayoutGuidance.Native
open LayoutGuidance.Models.Clip
open LayoutGuidance.Models.UNet
open LayoutGuidance.Models.Vae
open LayoutGuidance.Schedulers
open LayoutGuidance.Text
open LayoutGuidance.Toy
open LayoutGuidance.Toy.Training
open LayoutGuidance.Weights

/// The committed toy model (dotnet fsi build.fsx -- train-toy ... --export writes it).
let private folder = Path.Combine(Fixtures.repoRoot, "models", "toy")
let private file (parts: string list) = Path.Combine(folder :: parts |> Array.ofList)

let private load<'T when 'T :> torch.nn.Module> (part: string) (model: 'T) : 'T =
    use checkpoint = Checkpoint.Open(file [ part ])
    ModuleWeights.Load(model, checkpoint, torch.float32) |> ignore
    model.eval () |> ignore
    model

[<Tests>]
let tests =
    testList "toy model" [
        test "every file matches the committed SHA-256 list, and every file is listed" {
            let listed =
                File.ReadAllLines(file [ "SHA256SUMS" ])
                |> Array.filter (fun l -> l <> "")
                |> Array.map (fun l -> let parts = l.Split("  ", 2) in parts[1], parts[0])
                |> Map.ofArray
            let present =
                Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
                |> Array.map (fun f -> Path.GetRelativePath(folder, f).Replace('\\', '/'))
                |> Array.filter (fun f -> f <> "SHA256SUMS")
                |> Set.ofArray
            Expect.equal present (listed |> Map.keys |> Set.ofSeq) "files on disk = files listed"
            for KeyValue (name, hash) in listed do
                let actual = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file [ name ])))
                Expect.equal actual hash $"SHA-256 of {name}"
        }

        test "is a StableDiffusionPipeline folder of at most 20 MB with fp16 weights" {
            let index = ModelIndex.Read folder
            Expect.equal index.ClassName "StableDiffusionPipeline" "pipeline class"
            Expect.equal index.Components["unet"].ClassName "UNet2DConditionModel" "unet class"
            Expect.equal index.Components["scheduler"].ClassName "DDIMScheduler" "scheduler class"
            let bytes = Directory.GetFiles(folder, "*", SearchOption.AllDirectories) |> Array.sumBy (fun f -> FileInfo(f).Length)
            Expect.isLessThanOrEqual bytes (20L * 1024L * 1024L) "folder size"
            use unet = Checkpoint.Open(file [ "unet" ])
            for key in unet.Keys do
                Expect.equal unet[key].DType SafeTensorsDType.F16 $"dtype of {key}"
        }

        test "layout_guidance.json holds the model's guidance defaults" {
            use doc = JsonDocument.Parse(File.ReadAllText(file [ "layout_guidance.json" ]))
            let root = doc.RootElement
            Expect.equal (root.GetProperty("guided_layers").GetString()) "down_blocks.1+mid_block+up_blocks.0" "guided_layers"
            let window = root.GetProperty("window").EnumerateArray() |> Seq.map (fun e -> e.GetInt32()) |> List.ofSeq
            let steps = root.GetProperty("num_inference_steps").GetInt32()
            match window with
            | [ start; stop ] -> Expect.isTrue (0 <= start && start < stop && stop <= steps) $"window {window} within {steps} steps"
            | _ -> failtest $"window should be [start, end], got {window}"
            for key in [ "loss_scale"; "loss_threshold"; "guidance_scale" ] do
                Expect.isGreaterThan (root.GetProperty(key).GetDouble()) 0.0 key
            Expect.isGreaterThan (root.GetProperty("max_iter").GetInt32()) 0 "max_iter"
        }

        test "loads through the normal classes and samples an image without guidance" {
            TorchRuntime.Initialize()
            use unet = load "unet" (new UNet2DConditionModel(UNet2DConditionConfig.Read(file [ "unet"; "config.json" ])))
            use vae = load "vae" (new AutoencoderKL(AutoencoderKLConfig.Read(file [ "vae"; "config.json" ])))
            use text = load "text_encoder" (new CLIPTextModel(CLIPTextConfig.Read(file [ "text_encoder"; "config.json" ])))
            let tokenizer = ClipTokenizer.FromPretrained(file [ "tokenizer" ])
            use scheduler = Scheduler.FromPretrained(file [ "scheduler" ])
            Expect.equal (tokenizer.Encode("a red circle and a blue square").Tokens.Count) 7 "one token per caption word"

            use _ = torch.no_grad ()
            use scope = torch.NewDisposeScope()
            let ids (prompt: string) = tokenizer.Encode(prompt).InputIds |> Seq.map int64 |> Array.ofSeq
            let idArray: int64 array = Array.append (ids "") (ids "a red circle")
            use idTensor = torch.tensor(idArray).reshape(2L, 77L)
            use encoded = text.call idTensor
            scheduler.SetTimesteps 5
            let generator = (new torch.Generator()).manual_seed 0L
            let mutable latents = torch.randn ([| 1L; 4L; 16L; 16L |], generator = generator)
            for i in 0 .. scheduler.StepCount - 1 do
                let eps = unet.forward(torch.cat ([| latents; latents |], 0L), scheduler.Timesteps[i], encoded.LastHiddenState).chunk 2L
                latents <- scheduler.Step(eps[0] + (eps[1] - eps[0]) * 5.0, i, latents).PrevSample
            let image = vae.Decode(latents / vae.ScalingFactor)
            Expect.sequenceEqual image.shape [| 1L; 3L; 64L; 64L |] "image shape"
            Expect.isTrue (image.isfinite().all().item<bool> ()) "finite"
            Expect.isGreaterThan (image.std().item<float32> ()) 0.05f "not a flat image"
        }
    
        testList "training learning rate" [
            test "warms up linearly, then stays at the peak without a decay step" {
                Expect.floatClose Accuracy.veryHigh (LearningRateSchedule.At(1e-3, 0, 200, Nullable(), 1000)) 5e-6 "first step"
                Expect.floatClose Accuracy.veryHigh (LearningRateSchedule.At(1e-3, 199, 200, Nullable(), 1000)) 1e-3 "end of warm-up"
                Expect.floatClose Accuracy.veryHigh (LearningRateSchedule.At(1e-3, 999, 200, Nullable(), 1000)) 1e-3 "last step"
            }
            test "follows a cosine from the decay step to zero at the last step, whatever step a run resumes at" {
                let at step = LearningRateSchedule.At(1e-3, step, 200, Nullable 14000, 30000)
                Expect.floatClose Accuracy.veryHigh (at 13999) 1e-3 "before the decay"
                Expect.floatClose Accuracy.veryHigh (at 14000) 1e-3 "decay starts at the peak"
                Expect.floatClose Accuracy.veryHigh (at 22000) 5e-4 "half way: half the peak"
                Expect.floatClose Accuracy.veryHigh (at 30000) 0.0 "zero at the end"
                let rates = [ 14000 .. 500 .. 30000 ] |> List.map at
                Expect.isTrue (List.pairwise rates |> List.forall (fun (a, b) -> b <= a)) "never rises"
            }
        ]
    ]
