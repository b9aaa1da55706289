module LayoutGuidance.Tests.WeightsTests

open System
open System.IO
open System.Text
open System.Text.Json
open Expecto
open TorchSharp
open LayoutGuidance.Native
open LayoutGuidance.Weights
open LayoutGuidance.Tests.SafeTensorsTests

type private Tensor = torch.Tensor

// ---- synthetic modules, laid out like the project's: fields named as the checkpoint keys ----------------

type TinyBlock() as this =
    inherit torch.nn.Module<Tensor, Tensor>("TinyBlock")
    let proj_in = torch.nn.Linear(4L, 6L)
    let norm = torch.nn.LayerNorm([| 6L |])
    let to_out = torch.nn.ModuleList<torch.nn.Module<Tensor, Tensor>>(torch.nn.Linear(6L, 4L))
    let conv = torch.nn.Conv2d(1L, 2L, 3L, padding = 1L)
    let group_norm = torch.nn.GroupNorm(1L, 2L)
    let scale = torch.nn.Parameter(torch.ones(4L))
    let steps = torch.zeros([| 2L |], dtype = torch.int64)
    do this.RegisterComponents()
    override _.forward x =
        let h = to_out[0].call(norm.call(proj_in.call x)) * scale
        let image = group_norm.call(conv.call(x.reshape(-1L, 1L, 2L, 2L)))
        h + image.reshape(x.shape[0], -1L).sum(1L, keepdim = true) + steps.sum().to_type(x.dtype)

type TinyEmbeddings(positions: bool option) as this =
    inherit torch.nn.Module<Tensor, Tensor>("TinyEmbeddings")
    let token_embedding = torch.nn.Embedding(10L, 4L)
    do
        match positions with
        | Some persistent -> this.register_buffer("position_ids", torch.arange(3L).unsqueeze(0L), persistent)
        | None -> ()
        this.RegisterComponents()
    override _.forward ids = token_embedding.call ids

type TinyTextModel(positions) as this =
    inherit torch.nn.Module<Tensor, Tensor>("TinyTextModel")
    let embeddings = new TinyEmbeddings(positions)
    let final_layer_norm = torch.nn.LayerNorm([| 4L |])
    do this.RegisterComponents()
    override _.forward ids = final_layer_norm.call(embeddings.call ids)

type TinyTextEncoder(positions) as this =
    inherit torch.nn.Module<Tensor, Tensor>("TinyTextEncoder")
    let text_model = new TinyTextModel(positions)
    do this.RegisterComponents()
    override _.forward ids = text_model.call ids

type TinyAttention() as this =
    inherit torch.nn.Module<Tensor, Tensor>("TinyAttention")
    let group_norm = torch.nn.GroupNorm(1L, 4L)
    let to_q = torch.nn.Linear(4L, 4L)
    let to_k = torch.nn.Linear(4L, 4L)
    let to_v = torch.nn.Linear(4L, 4L)
    let to_out = torch.nn.ModuleList<torch.nn.Module<Tensor, Tensor>>(torch.nn.Linear(4L, 4L))
    do this.RegisterComponents()
    override _.forward x = to_out[0].call(to_q.call x + to_k.call x + to_v.call x)

type TinyMidBlock() as this =
    inherit torch.nn.Module<Tensor, Tensor>("TinyMidBlock")
    let attentions = torch.nn.ModuleList<torch.nn.Module<Tensor, Tensor>>(new TinyAttention())
    do this.RegisterComponents()
    override _.forward x = attentions[0].call x

type TinyDecoder() as this =
    inherit torch.nn.Module<Tensor, Tensor>("TinyDecoder")
    let mid_block = new TinyMidBlock()
    do this.RegisterComponents()
    override _.forward x = mid_block.call x

// ---- building blocks --------------------------------------------------------------------------------------------

let private onMeta (build: unit -> 'M) =
    torch.set_default_device(torch.device "meta")
    try build () finally torch.set_default_device(torch.CPU)

let private stateOf (m: torch.nn.Module) = m.state_dict() |> Seq.map (fun kv -> kv.Key, kv.Value) |> List.ofSeq

let private save (folder: string) (file: string) (tensors: (string * Tensor) list) =
    Directory.CreateDirectory folder |> ignore
    SafeTensorsWriter.Save(Path.Combine(folder, file), dict tensors)

let private checkpointOf (tensors: (string * Tensor) list) =
    let dir = Fixtures.tempDir ()
    save dir "model.safetensors" tensors
    Checkpoint.Open(dir)

let private valuesOf (t: Tensor) = t.detach().to_type(torch.float64).data<float>().ToArray()

let private allParametersEqual (expected: torch.nn.Module) (actual: torch.nn.Module) =
    let e = dict (stateOf expected)
    for name, t in stateOf actual do
        Expect.equal (valuesOf t) (valuesOf e[name]) $"{name} equals the checkpoint"

let private expectMessage (e: exn) (fragments: string list) =
    for f in fragments do Expect.stringContains e.Message f "message"

/// Header entries (name → dtype, shape) read with nothing but a JSON parser.
let private headerOf (file: string) =
    let bytes = File.ReadAllBytes file
    let n = int (BitConverter.ToUInt64(bytes, 0))
    use doc = JsonDocument.Parse(ReadOnlyMemory(bytes, 8, n))
    [ for p in doc.RootElement.EnumerateObject() do
        if p.Name <> "__metadata__" then
            p.Name, (p.Value.GetProperty("dtype").GetString(), [| for d in p.Value.GetProperty("shape").EnumerateArray() -> d.GetInt64() |]) ]
    |> Map.ofList

let private fixturePipelines =
    [ "tiny-sd15", "StableDiffusionPipeline", [ "scheduler"; "text_encoder"; "tokenizer"; "unet"; "vae" ]
      "tiny-sd21", "StableDiffusionPipeline", [ "scheduler"; "text_encoder"; "tokenizer"; "unet"; "vae" ]
      "tiny-sdxl", "StableDiffusionXLPipeline", [ "scheduler"; "text_encoder"; "text_encoder_2"; "tokenizer"; "tokenizer_2"; "unet"; "vae" ] ]

let private weightComponents = set [ "unet"; "vae"; "text_encoder"; "text_encoder_2" ]

let private withEnv (name: string) (value: string) (f: unit -> unit) =
    let old = Environment.GetEnvironmentVariable name
    Environment.SetEnvironmentVariable(name, value)
    try f () finally Environment.SetEnvironmentVariable(name, old)

[<Tests>]
let tests =
    testList "weights" [
        testList "fixture pipelines" [
            for fixture, className, components in fixturePipelines do
                test $"{fixture}: model_index.json components resolve to their folders" {
                    let folder = Fixtures.path [ fixture ]
                    let index = ModelIndex.Read folder
                    Expect.equal index.ClassName className "_class_name"
                    Expect.equal index.DiffusersVersion "0.21.4" "_diffusers_version"
                    Expect.equal (index.Components.Keys |> List.ofSeq |> List.sort) components "components, without the [null, null] ones"
                    use raw = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "model_index.json")))
                    for name in components do
                        let c = index.Component name
                        let pair = raw.RootElement.GetProperty(name)
                        Expect.equal (c.Library, c.ClassName) (pair[0].GetString(), pair[1].GetString()) $"{name} library and class"
                        Expect.equal c.Folder (Path.Combine(Path.GetFullPath folder, name)) $"{name} folder"
                        Expect.isTrue (Directory.Exists c.Folder) $"{name} folder exists"
                }
                test $"{fixture}: every component's weights load with the header's names, shapes and dtypes" {
                    TorchRuntime.Initialize()
                    let index = ModelIndex.Read(Fixtures.path [ fixture ])
                    for name in components |> List.filter weightComponents.Contains do
                        use checkpoint = index.OpenCheckpoint name
                        Expect.equal checkpoint.Files.Count 1 "one file"
                        let header = headerOf checkpoint.Files[0]
                        let tensors = checkpoint.LoadAll()
                        try
                            Expect.equal (tensors.Keys |> Set.ofSeq) (header.Keys |> Set.ofSeq) $"{name}: names"
                            for KeyValue(key, t) in tensors do
                                let dtype, shape = header[key]
                                Expect.equal t.shape shape $"{name}/{key} shape"
                                Expect.equal t.dtype ((Enum.Parse<SafeTensorsDType>(dtype)).ToScalarType()) $"{name}/{key} dtype"
                        finally
                            for t in tensors.Values do t.Dispose()
                }
        ]

        testList "model_index.json errors" [
            let folderWith (json: string) =
                let dir = Fixtures.tempDir ()
                File.WriteAllText(Path.Combine(dir, "model_index.json"), json)
                dir
            test "a folder without model_index.json is not a pipeline" {
                let dir = Fixtures.tempDir ()
                let e = thrown<ConfigException> (fun () -> ModelIndex.Read dir |> ignore)
                Expect.equal e.FilePath (Path.Combine(dir, "model_index.json")) "names the file"
                expectMessage e [ "not a diffusers pipeline" ]
            }
            test "malformed JSON" {
                let e = thrown<ConfigException> (fun () -> ModelIndex.Read(folderWith "{\"_class_name\": ") |> ignore)
                expectMessage e [ "model_index.json"; "not valid JSON" ]
            }
            test "no _class_name" {
                let e = thrown<ConfigException> (fun () -> ModelIndex.Read(folderWith "{\"unet\": [\"diffusers\", \"UNet2DConditionModel\"]}") |> ignore)
                expectMessage e [ "_class_name" ]
            }
            test "a component that is not a [library, class] pair" {
                let e = thrown<ConfigException> (fun () -> ModelIndex.Read(folderWith "{\"_class_name\": \"P\", \"unet\": [\"diffusers\"]}") |> ignore)
                expectMessage e [ "\"unet\""; "[library, class]" ]
            }
            test "settings and private keys are not components" {
                let index = ModelIndex.Read(folderWith "{\"_class_name\": \"P\", \"_name_or_path\": \"x\", \"requires_safety_checker\": false, \"safety_checker\": [null, null]}")
                Expect.isEmpty index.Components "no components"
                Expect.equal (index.Settings["requires_safety_checker"].GetBoolean()) false "setting"
                Expect.isNull index.DiffusersVersion "no version"
            }
            test "asking for an unlisted component or one whose folder is missing" {
                let index = ModelIndex.Read(folderWith "{\"_class_name\": \"P\", \"unet\": [\"diffusers\", \"UNet2DConditionModel\"]}")
                expectMessage (thrown<ConfigException> (fun () -> index.Component "vae" |> ignore)) [ "no component \"vae\""; "it has unet" ]
                expectMessage (thrown<ConfigException> (fun () -> index.Component "unet" |> ignore)) [ "folder"; "does not exist" ]
            }
        ]

        testList "checkpoint resolution" [
            test "the diffusers and the transformers file names" {
                TorchRuntime.Initialize()
                for file in [ "diffusion_pytorch_model.safetensors"; "model.safetensors" ] do
                    let dir = Fixtures.tempDir ()
                    save dir file [ "w", torch.ones(2L) ]
                    use c = Checkpoint.Open(dir)
                    Expect.equal c.Path (Path.Combine(dir, file)) file
                    Expect.equal (List.ofSeq c.Keys) [ "w" ] "keys"
            }
            test "a variant is chosen by the option, never by accident" {
                TorchRuntime.Initialize()
                let dir = Fixtures.tempDir ()
                save dir "diffusion_pytorch_model.safetensors" [ "w", torch.ones(2L) ]
                save dir "diffusion_pytorch_model.fp16.safetensors" [ "w", torch.ones(2L, dtype = torch.float16) ]
                use plain = Checkpoint.Open(dir)
                use half = Checkpoint.Open(dir, "fp16")
                Expect.equal (Path.GetFileName plain.Path) "diffusion_pytorch_model.safetensors" "no variant"
                Expect.equal plain["w"].DType SafeTensorsDType.F32 "fp32 file"
                Expect.equal (Path.GetFileName half.Path) "diffusion_pytorch_model.fp16.safetensors" "fp16 variant"
                Expect.equal half["w"].DType SafeTensorsDType.F16 "fp16 file"
                let textDir = Fixtures.tempDir ()
                save textDir "model.fp16.safetensors" [ "w", torch.ones(2L, dtype = torch.float16) ]
                use text = Checkpoint.Open(textDir, "fp16")
                Expect.equal (Path.GetFileName text.Path) "model.fp16.safetensors" "transformers variant"
            }
            test "the file names tried, in order" {
                Expect.equal (List.ofSeq (Checkpoint.WeightFileNames null))
                    [ "diffusion_pytorch_model.safetensors"; "model.safetensors"; "diffusion_pytorch_model.safetensors.index.json"; "model.safetensors.index.json" ] "plain"
                Expect.equal (List.ofSeq (Checkpoint.WeightFileNames "fp16"))
                    [ "diffusion_pytorch_model.fp16.safetensors"; "model.fp16.safetensors"; "diffusion_pytorch_model.safetensors.index.fp16.json"; "model.safetensors.index.fp16.json" ] "fp16"
                Expect.throwsT<ArgumentException> (fun () -> Checkpoint.WeightFileNames "../x" |> ignore) "not a plain variant name"
            }
            let sharded (indexName: string) (weightMap: string) =
                let dir = Fixtures.tempDir ()
                save dir "shard-1.safetensors" [ "a", torch.tensor([| 1.0f; 2.0f |]); "b", torch.tensor([| 3L |]) ]
                save dir "shard-2.safetensors" [ "c", torch.zeros(2L, 2L) ]
                File.WriteAllText(Path.Combine(dir, indexName), $"{{\"metadata\": {{\"total_size\": 32}}, \"weight_map\": {weightMap}}}")
                dir
            let goodMap = "{\"a\": \"shard-1.safetensors\", \"b\": \"shard-1.safetensors\", \"c\": \"shard-2.safetensors\"}"
            test "sharded checkpoints present one name → tensor view" {
                TorchRuntime.Initialize()
                use c = Checkpoint.Open(sharded "diffusion_pytorch_model.safetensors.index.json" goodMap)
                Expect.equal (List.ofSeq c.Keys) [ "a"; "b"; "c" ] "all keys"
                Expect.equal c.Files.Count 2 "two shards"
                Expect.equal (Path.GetFileName (c.FileOf "c").Path) "shard-2.safetensors" "c in shard 2"
                use a = c.Load "a"
                Expect.equal (a.data<float32>().ToArray()) [| 1.0f; 2.0f |] "a"
                Expect.equal c["b"].DType SafeTensorsDType.I64 "b info"
                use variant = Checkpoint.Open(sharded "model.safetensors.index.fp16.json" goodMap, "fp16")
                Expect.equal variant.Keys.Count 3 "variant index"
            }
            test "a single file is preferred to an index" {
                TorchRuntime.Initialize()
                let dir = sharded "model.safetensors.index.json" goodMap
                save dir "model.safetensors" [ "x", torch.ones(1L) ]
                use c = Checkpoint.Open(dir)
                Expect.equal (List.ofSeq c.Keys) [ "x" ] "single file"
            }
            testList "index errors name the index and the fix" [
                let bad name (weightMap: string) (fragment: string) =
                    test name {
                        TorchRuntime.Initialize()
                        let dir = sharded "model.safetensors.index.json" weightMap
                        let e = thrown<CheckpointException> (fun () -> (Checkpoint.Open(dir)).Dispose())
                        Expect.equal e.Folder dir "folder"
                        expectMessage e [ dir; "model.safetensors.index.json"; fragment ]
                    }
                bad "a missing shard" "{\"a\": \"shard-1.safetensors\", \"b\": \"shard-1.safetensors\", \"c\": \"shard-3.safetensors\"}" "shard-3.safetensors, which is missing"
                bad "a key its shard lacks" "{\"a\": \"shard-1.safetensors\", \"b\": \"shard-2.safetensors\", \"c\": \"shard-2.safetensors\"}" "places 'b' in shard-2.safetensors"
                bad "a tensor the map does not list" "{\"a\": \"shard-1.safetensors\", \"c\": \"shard-2.safetensors\"}" "holds 'b'"
                bad "a shard outside the folder" "{\"a\": \"../shard-1.safetensors\"}" "not a file in this folder"
                bad "a shard that is not a string" "{\"a\": 1}" "not a file name"
                bad "no weight_map" "1, \"x\": {}" "no \"weight_map\" object"
                bad "malformed JSON" "{\"a\": " "not valid JSON"
                bad "duplicate keys" "{\"a\": \"shard-1.safetensors\", \"a\": \"shard-1.safetensors\"}" "not valid JSON"
            ]
            test "a corrupt shard is a SafeTensorsException naming the shard" {
                TorchRuntime.Initialize()
                let dir = sharded "model.safetensors.index.json" goodMap
                File.WriteAllBytes(Path.Combine(dir, "shard-2.safetensors"), [| 1uy; 2uy |])
                let e = thrown<SafeTensorsException> (fun () -> (Checkpoint.Open(dir)).Dispose())
                Expect.equal e.FilePath (Path.Combine(dir, "shard-2.safetensors")) "shard named"
            }
            testList "missing weights" [
                test "an empty folder: the files looked for" {
                    let dir = Fixtures.tempDir ()
                    let e = thrown<CheckpointException> (fun () -> (Checkpoint.Open(dir)).Dispose())
                    Expect.equal (List.ofSeq e.LookedFor) (List.ofSeq (Checkpoint.WeightFileNames null)) "looked for"
                    expectMessage e [ dir; "diffusion_pytorch_model.safetensors, model.safetensors, diffusion_pytorch_model.safetensors.index.json, model.safetensors.index.json"; "empty" ]
                }
                test "a folder that does not exist" {
                    let dir = Path.Combine(Fixtures.tempDir (), "unet")
                    expectMessage (thrown<CheckpointException> (fun () -> (Checkpoint.Open(dir)).Dispose())) [ dir; "does not exist" ]
                }
                test "only .bin files: pickles are not supported, and how to convert" {
                    for bin, target in [ "diffusion_pytorch_model.bin", "diffusion_pytorch_model.safetensors"; "pytorch_model.bin", "model.safetensors"; "pytorch_model.fp16.bin", "model.fp16.safetensors" ] do
                        let dir = Fixtures.tempDir ()
                        File.WriteAllBytes(Path.Combine(dir, bin), [| 0x80uy |])
                        let e = thrown<CheckpointException> (fun () -> (Checkpoint.Open(dir)).Dispose())
                        expectMessage e [ $"Found {bin}"; ".bin/pickle checkpoints are not supported"; "python -c"; "weights_only=True"
                                          Path.Combine(dir, bin); Path.Combine(dir, target); "safe_serialization=True" ]
                }
                test "sharded .bin files: the save_pretrained route" {
                    let dir = Fixtures.tempDir ()
                    for f in [ "pytorch_model-00001-of-00002.bin"; "pytorch_model.bin.index.json" ] do File.WriteAllText(Path.Combine(dir, f), "")
                    let e = thrown<CheckpointException> (fun () -> (Checkpoint.Open(dir)).Dispose())
                    expectMessage e [ "not supported"; "save_pretrained" ]
                    Expect.isFalse (e.Message.Contains "python -c") "no single-file command"
                }
                test "a variant asked for but absent, and one present but not asked for" {
                    TorchRuntime.Initialize()
                    let plain = Fixtures.tempDir ()
                    save plain "model.safetensors" [ "w", torch.ones(1L) ]
                    expectMessage (thrown<CheckpointException> (fun () -> (Checkpoint.Open(plain, "fp16")).Dispose()))
                        [ "no 'fp16' variant safetensors weights"; "model.fp16.safetensors"; "Found model.safetensors"; "without a variant" ]
                    let half = Fixtures.tempDir ()
                    save half "diffusion_pytorch_model.fp16.safetensors" [ "w", torch.ones(1L) ]
                    expectMessage (thrown<CheckpointException> (fun () -> (Checkpoint.Open half).Dispose()))
                        [ "Found diffusion_pytorch_model.fp16.safetensors"; "variant \"fp16\"" ]
                }
            ]
        ]

        testList "model location" [
            let pipelineAt (folder: string) =
                Directory.CreateDirectory folder |> ignore
                File.WriteAllText(Path.Combine(folder, "model_index.json"), "{\"_class_name\": \"StableDiffusionPipeline\"}")
            test "short names resolve to a folder of that name under the models root" {
                let root = Fixtures.tempDir ()
                for name in [ "sd15"; "sd21"; "sd21-base"; "sdxl" ] do
                    pipelineAt (Path.Combine(root, name))
                    Expect.equal (ModelLocation.Resolve(name, root)) (Path.Combine(root, name)) name
                Expect.equal (ModelLocation.Resolve("SDXL", root)) (Path.Combine(root, "sdxl")) "case-insensitive"
            }
            test "short names map to the Hugging Face repositories users download" {
                Expect.equal (ModelLocation.HubRepositories |> Seq.map (fun kv -> kv.Key, kv.Value) |> List.ofSeq |> List.sort)
                    [ "sd15", "stable-diffusion-v1-5/stable-diffusion-v1-5"
                      "sd21", "stabilityai/stable-diffusion-2-1"
                      "sd21-base", "stabilityai/stable-diffusion-2-1-base"
                      "sdxl", "stabilityai/stable-diffusion-xl-base-1.0" ] "repositories"
            }
            test "a missing model: the path looked at and the exact download command" {
                let root = Fixtures.tempDir ()
                let expected = Path.Combine(root, "sdxl")
                let e = thrown<ModelNotFoundException> (fun () -> ModelLocation.Resolve("sdxl", root) |> ignore)
                let command = $"huggingface-cli download stabilityai/stable-diffusion-xl-base-1.0 --local-dir {expected}"
                Expect.equal e.Path expected "path looked at"
                Expect.equal e.DownloadCommand command "download command"
                expectMessage e [ expected; command ]
            }
            test "a partial download (no model_index.json) gets the same advice" {
                let root = Fixtures.tempDir ()
                Directory.CreateDirectory(Path.Combine(root, "sd15", "unet")) |> ignore
                let e = thrown<ModelNotFoundException> (fun () -> ModelLocation.Resolve("sd15", root) |> ignore)
                expectMessage e [ "no model_index.json"; "huggingface-cli download stable-diffusion-v1-5/stable-diffusion-v1-5 --local-dir" ]
            }
            test "download paths with spaces are quoted for the shell" {
                Expect.equal (ModelLocation.DownloadCommand("a/b", "/x/my models/sd15")) "huggingface-cli download a/b --local-dir '/x/my models/sd15'" "quoted"
            }
            test "the models root: explicit, else LAYOUTGUIDANCE_MODELS, else ~/models" {
                let explicitRoot = Fixtures.tempDir ()
                let envRoot = Fixtures.tempDir ()
                withEnv ModelLocation.ModelsRootVariable envRoot (fun () ->
                    Expect.equal (ModelLocation.ModelsRoot(explicitRoot)) explicitRoot "explicit wins"
                    Expect.equal (ModelLocation.ModelsRoot()) envRoot "environment variable"
                    pipelineAt (Path.Combine(envRoot, "sd21-base"))
                    Expect.equal (ModelLocation.Resolve("sd21-base")) (Path.Combine(envRoot, "sd21-base")) "resolved under it")
                withEnv ModelLocation.ModelsRootVariable null (fun () ->
                    let home = Environment.GetFolderPath Environment.SpecialFolder.UserProfile
                    Expect.equal (ModelLocation.ModelsRoot()) (Path.Combine(home, "models")) "home default")
            }
            test "folders and registered names" {
                let tiny = Fixtures.path [ "tiny-sdxl" ]
                Expect.equal (ModelLocation.Resolve(tiny)) (Path.GetFullPath tiny) "a folder path"
                ModelLocation.Register("tiny-sdxl-test", tiny)
                Expect.equal (ModelLocation.Resolve("tiny-sdxl-test")) (Path.GetFullPath tiny) "registered name"
                Expect.contains ModelLocation.Names "tiny-sdxl-test" "listed"
                Expect.throwsT<ArgumentException> (fun () -> ModelLocation.Register("sd15", tiny)) "published names stay"
                let e = thrown<ModelNotFoundException> (fun () -> ModelLocation.Resolve("no-such-model") |> ignore)
                Expect.isNull e.DownloadCommand "no download for unknown names"
                expectMessage e [ "not a known model name"; "sd15"; "sdxl"; "tiny-sdxl-test"; Path.GetFullPath "no-such-model" ]
                let notPipeline = Fixtures.tempDir ()
                expectMessage (thrown<ModelNotFoundException> (fun () -> ModelLocation.Resolve(notPipeline) |> ignore)) [ "no model_index.json" ]
            }
        ]

        testList "module weights" [
            test "every tensor is copied in by name, in place when dtype and device already match" {
                TorchRuntime.Initialize()
                use source = new TinyBlock()
                Expect.equal (stateOf source |> List.map fst |> List.sort)
                    [ "conv.bias"; "conv.weight"; "group_norm.bias"; "group_norm.weight"; "norm.bias"; "norm.weight"
                      "proj_in.bias"; "proj_in.weight"; "scale"; "steps"; "to_out.0.bias"; "to_out.0.weight" ] "checkpoint keys are field names"
                use _ = torch.no_grad()
                for _, t in stateOf source do t.copy_(torch.randn_like(t.to_type(torch.float32)).mul(3.0.ToScalar()).to_type(t.dtype)) |> ignore
                use checkpoint = checkpointOf (stateOf source)
                use target = new TinyBlock()
                let before = target.parameters() |> Seq.map (fun p -> p.Handle) |> List.ofSeq
                ModuleWeights.Load(target, checkpoint) |> ignore
                allParametersEqual source target
                Expect.equal (target.parameters() |> Seq.map (fun p -> p.Handle) |> List.ofSeq) before "same tensors, written in place"
            }
            test "every missing, unexpected and mis-shaped key is listed in one exception, before anything is touched" {
                TorchRuntime.Initialize()
                use source = new TinyBlock()
                let state =
                    stateOf source
                    |> List.filter (fun (k, _) -> k <> "norm.bias")
                    |> List.map (fun (k, t) -> if k = "scale" then k, torch.ones(5L) else k, t)
                    |> List.append [ "extra.weight", torch.ones(1L) ]
                use checkpoint = checkpointOf state
                use target = new TinyBlock()
                let before = valuesOf (target.get_parameter "proj_in.weight")
                let e = thrown<WeightsMismatchException> (fun () -> ModuleWeights.Load(target, checkpoint) |> ignore)
                Expect.equal (List.ofSeq e.Missing) [ "norm.bias" ] "missing"
                Expect.equal (List.ofSeq e.Unexpected) [ "extra.weight" ] "unexpected"
                Expect.equal (e.ShapeMismatches |> Seq.map (fun m -> m.Key, m.CheckpointShape, m.ModuleShape) |> List.ofSeq) [ "scale", [| 5L |], [| 4L |] ] "shape"
                Expect.isEmpty e.NotMaterialised "nothing left on meta"
                expectMessage e [ checkpoint.Path; "TinyBlock"; "missing from the checkpoint (1):\n    norm.bias"; "unexpected in the checkpoint (1):\n    extra.weight"; "scale: checkpoint [5], module [4]" ]
                Expect.equal (valuesOf (target.get_parameter "proj_in.weight")) before "untouched"
            }
            test "text_model.embeddings.position_ids may be on one side only" {
                TorchRuntime.Initialize()
                use withPositions = new TinyTextEncoder(Some true)
                use without = new TinyTextEncoder(None)
                use fileWith = checkpointOf (stateOf withPositions)
                use fileWithout = checkpointOf (stateOf without)
                Expect.isTrue (fileWith.Contains "text_model.embeddings.position_ids") "older transformers files carry it"
                use target1 = new TinyTextEncoder(None)
                ModuleWeights.Load(target1, fileWith) |> ignore
                allParametersEqual withPositions target1
                use target2 = new TinyTextEncoder(Some true)
                ModuleWeights.Load(target2, fileWithout) |> ignore
                Expect.equal (valuesOf (target2.get_buffer "text_model.embeddings.position_ids")) [| 0.0; 1.0; 2.0 |] "kept its own"
                use target3 = new TinyTextEncoder(Some false)
                ModuleWeights.Load(target3, fileWith) |> ignore
                Expect.equal (valuesOf (target3.get_buffer "text_model.embeddings.position_ids")) [| 0.0; 1.0; 2.0 |] "a non-persistent buffer is not loaded"
            }
            test "the rename hook translates old VAE attention names" {
                TorchRuntime.Initialize()
                use source = new TinyDecoder()
                let old (k: string) =
                    k.Replace(".to_q.", ".query.").Replace(".to_k.", ".key.").Replace(".to_v.", ".value.").Replace(".to_out.0.", ".proj_attn.")
                let state = stateOf source |> List.map (fun (k, t) -> old k, t)
                Expect.contains (List.map fst state) "mid_block.attentions.0.proj_attn.weight" "old names written"
                use checkpoint = checkpointOf state
                use strict = new TinyDecoder()
                let e = thrown<WeightsMismatchException> (fun () -> ModuleWeights.Load(strict, checkpoint) |> ignore)
                Expect.equal e.Missing.Count 8 "to_q/to_k/to_v/to_out.0 weight and bias missing"
                Expect.equal e.Unexpected.Count 8 "query/key/value/proj_attn unexpected"
                use target = new TinyDecoder()
                ModuleWeights.Load(target, checkpoint, rename = Func<string, string>(DeprecatedAttentionNames.ToCurrent)) |> ignore
                allParametersEqual source target
            }
            test "DeprecatedAttentionNames renames exactly the four old projections of attention blocks" {
                let cases =
                    [ "encoder.mid_block.attentions.0.query.weight", "encoder.mid_block.attentions.0.to_q.weight"
                      "decoder.mid_block.attentions.0.key.bias", "decoder.mid_block.attentions.0.to_k.bias"
                      "decoder.mid_block.attentions.0.value.weight", "decoder.mid_block.attentions.0.to_v.weight"
                      "decoder.mid_block.attentions.0.proj_attn.bias", "decoder.mid_block.attentions.0.to_out.0.bias"
                      "decoder.mid_block.attentions.0.group_norm.weight", "decoder.mid_block.attentions.0.group_norm.weight"
                      "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight", "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight"
                      "decoder.conv_in.weight", "decoder.conv_in.weight" ]
                for input, expected in cases do Expect.equal (DeprecatedAttentionNames.ToCurrent input) expected input
            }
            test "a rename hook that merges two keys is refused" {
                TorchRuntime.Initialize()
                use checkpoint = checkpointOf [ "a", torch.ones(1L); "b", torch.ones(1L) ]
                use target = new TinyBlock()
                Expect.throwsT<ArgumentException> (fun () -> ModuleWeights.Load(target, checkpoint, rename = Func<string, string>(fun _ -> "scale")) |> ignore) "collision"
            }
            test "a module built on the meta device is materialised with real tensors and runs" {
                TorchRuntime.Initialize()
                use reference = new TinyBlock()
                use checkpoint = checkpointOf (stateOf reference)
                use target = onMeta (fun () -> new TinyBlock())
                Expect.isTrue (target.parameters() |> Seq.forall (fun p -> p.is_meta)) "built on meta"
                let parameterObjects = target.parameters() |> List.ofSeq
                ModuleWeights.Load(target, checkpoint) |> ignore
                for struct (name, p) in target.named_parameters() do
                    Expect.isFalse p.is_meta $"{name} materialised"
                    Expect.equal p.device_type DeviceType.CPU $"{name} on the CPU"
                    Expect.equal p.dtype torch.float32 $"{name} float32"
                    Expect.isTrue p.requires_grad $"{name} still requires grad"
                Expect.isTrue (List.forall2 (fun (a: Modules.Parameter) b -> obj.ReferenceEquals(a, b)) parameterObjects (List.ofSeq (target.parameters()))) "same parameter objects"
                Expect.equal (target.get_buffer("steps").dtype) torch.int64 "integer buffer"
                allParametersEqual reference target
                use x = torch.randn(3L, 4L)
                use expected = reference.call x
                use actual = target.call x
                Expect.equal (valuesOf actual) (valuesOf expected) "forward equals a CPU-built module's"
                actual.sum().backward()
                for struct (name, p) in target.named_parameters() do
                    Expect.isNotNull (p.grad) $"{name} gets a gradient"
            }
            test "materialised tensors outlive the caller's dispose scope" {
                TorchRuntime.Initialize()
                use reference = new TinyBlock()
                use checkpoint = checkpointOf (stateOf reference)
                use target = onMeta (fun () -> new TinyBlock())
                do
                    use _ = torch.NewDisposeScope()
                    ModuleWeights.Load(target, checkpoint) |> ignore
                use x = torch.randn(3L, 4L)
                Expect.equal (valuesOf (target.call x)) (valuesOf (reference.call x)) "still usable after the scope ends"
            }
            test "a meta-built libtorch-backed Embedding is materialised too" {
                TorchRuntime.Initialize()
                use reference = new TinyTextEncoder(Some true)
                use checkpoint = checkpointOf (stateOf reference)
                use target = onMeta (fun () -> new TinyTextEncoder(Some true))
                ModuleWeights.Load(target, checkpoint) |> ignore
                use ids = torch.tensor([| 1L; 7L; 3L |])
                Expect.equal (valuesOf (target.call ids)) (valuesOf (reference.call ids)) "embedding lookups use the loaded table"
                Expect.equal (valuesOf (target.get_buffer "text_model.embeddings.position_ids")) [| 0.0; 1.0; 2.0 |] "position_ids from the file"
            }
            test "meta tensors the checkpoint cannot fill are reported" {
                TorchRuntime.Initialize()
                use reference = new TinyTextEncoder(None)
                use checkpoint = checkpointOf (stateOf reference)
                use target = onMeta (fun () -> new TinyTextEncoder(Some false))
                let e = thrown<WeightsMismatchException> (fun () -> ModuleWeights.Load(target, checkpoint) |> ignore)
                Expect.equal (List.ofSeq e.NotMaterialised) [ "text_model.embeddings.position_ids" ] "non-persistent buffer left on meta"
                expectMessage e [ "still on the meta device"; "text_model.embeddings.position_ids" ]
            }
            test "an fp16 checkpoint loads into a float32 module, and bfloat16 can be asked for" {
                TorchRuntime.Initialize()
                use source = new TinyBlock()
                let half = stateOf source |> List.map (fun (k, t) -> k, (if torch.is_floating_point t then t.to_type(torch.float16) else t))
                use checkpoint = checkpointOf half
                Expect.equal checkpoint["proj_in.weight"].DType SafeTensorsDType.F16 "fp16 file"
                use fp32 = new TinyBlock()
                ModuleWeights.Load(fp32, checkpoint) |> ignore
                let halfByName = dict half
                for name, t in stateOf fp32 do
                    Expect.equal (valuesOf t) (valuesOf halfByName[name]) $"{name} holds the fp16 values"
                    Expect.equal t.dtype (if name = "steps" then torch.int64 else torch.float32) $"{name} keeps the module dtype"
                use bf16 = onMeta (fun () -> new TinyBlock())
                ModuleWeights.Load(bf16, checkpoint, dtype = torch.bfloat16, device = torch.CPU) |> ignore
                for name, t in stateOf bf16 do
                    Expect.equal t.dtype (if name = "steps" then torch.int64 else torch.bfloat16) $"{name} dtype"
                    use expected = halfByName[name].to_type(t.dtype)
                    Expect.equal (valuesOf t) (valuesOf expected) $"{name} values"
                use x = torch.randn(2L, 4L, dtype = torch.bfloat16)
                use y = bf16.call x
                Expect.equal y.dtype torch.bfloat16 "forward in bfloat16"
                Expect.throwsT<ArgumentException> (fun () -> ModuleWeights.Load(fp32, checkpoint, dtype = torch.int32) |> ignore) "integer dtype refused"
            }
        ]
    ]
