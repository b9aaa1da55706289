module LayoutGuidance.Tests.TextEncoderTests

open System
open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open LayoutGuidance.Native
open LayoutGuidance.Weights
open LayoutGuidance.Models.Clip
open LayoutGuidance.Text

type private TextEncoder = torch.nn.Module<torch.Tensor, CLIPTextOutput>

/// In a checkpoint, not in the module: transformers < 4.31 saved this constant arange.
let private checkpointOnly = set [ "text_model.embeddings.position_ids" ]

/// Loads through the project's loader, which requires the module's names to equal the checkpoint keys.
let private loadWeights (m: torch.nn.Module) (folder: string) =
    use checkpoint = Checkpoint.Open folder
    ModuleWeights.Load(m, checkpoint) |> ignore

let private readConfig pipeline part = CLIPTextConfig.Read(Fixtures.path [ pipeline; part; "config.json" ])

let private build (config: CLIPTextConfig) projection : TextEncoder =
    if projection then new CLIPTextModelWithProjection(config) else new CLIPTextModel(config)

let private loaded pipeline part projection config =
    let m = build config projection
    loadWeights m (Fixtures.path [ pipeline; part ])
    m.eval ()
    m

let private caseTensors name =
    use st = SafeTensorsFile.Open(Fixtures.path [ "cases"; "text_encoder"; name + ".safetensors" ])
    st.LoadAll() |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq

let private caseIndex =
    lazy (
        use doc = JsonDocument.Parse(File.ReadAllText(Fixtures.path [ "cases"; "text_encoder"; "index.json" ]))
        doc.RootElement.GetProperty("cases").EnumerateArray()
        |> Seq.map (fun c -> c.GetProperty("name").GetString(), c.Clone())
        |> Map.ofSeq)

let private indexEntry (name: string) = caseIndex.Force()[name]

let private writeConfig (json: string) =
    let file = Path.Combine(Fixtures.tempDir (), "config.json")
    File.WriteAllText(file, json)
    file

let private raised<'E when 'E :> exn> (f: unit -> unit) : 'E =
    try
        f ()
        failtest $"expected {typeof<'E>.Name}"
    with :? 'E as e -> e

let private expectClose actual expected what = TestTensors.expectClose 1e-4 1e-5 actual expected what

type private Encoder = { Case: string; Pipeline: string; Component: string; Projection: bool }

let private encoders =
    [ { Case = "sd15_text_encoder"; Pipeline = "tiny-sd15"; Component = "text_encoder"; Projection = false }
      { Case = "sd21_text_encoder"; Pipeline = "tiny-sd21"; Component = "text_encoder"; Projection = false }
      { Case = "sdxl_text_encoder"; Pipeline = "tiny-sdxl"; Component = "text_encoder"; Projection = false }
      { Case = "sdxl_text_encoder_2"; Pipeline = "tiny-sdxl"; Component = "text_encoder_2"; Projection = true } ]

let private loadedEncoder (e: Encoder) =
    TorchRuntime.Initialize()
    loaded e.Pipeline e.Component e.Projection (readConfig e.Pipeline e.Component)

let private parity (e: Encoder) =
    let run =
        lazy (
            let m = loadedEncoder e
            let case = caseTensors e.Case
            use _ = torch.no_grad ()
            m.call case["input_ids"], case)
    testList e.Case [
        test "last_hidden_state (after final_layer_norm)" {
            let out, case = run.Force()
            expectClose out.LastHiddenState case["last_hidden_state"] "last_hidden_state"
        }
        test "penultimate hidden state = hidden_states[-2], no final_layer_norm" {
            let out, case = run.Force()
            expectClose out.HiddenStates[out.HiddenStates.Count - 2] case["penultimate_hidden_state"] "hidden_states[-2]"
        }
        test "all hidden states, embeddings output first" {
            let out, case = run.Force()
            let expected = case["all_hidden_states"]
            Expect.equal (int64 out.HiddenStates.Count) expected.shape[0] "num_hidden_layers + 1 states"
            out.HiddenStates |> Seq.iteri (fun i s -> expectClose s expected[int64 i] $"hidden_states[{i}]")
        }
        if e.Projection then
            test "text_embeds = text_projection(pooled)" {
                let out, case = run.Force()
                expectClose out.TextEmbeds case["text_embeds"] "text_embeds"
            }
        else
            test "pooler_output" {
                let out, case = run.Force()
                Expect.isNull out.TextEmbeds "no text_embeds without projection"
                expectClose out.PoolerOutput case["pooler_output"] "pooler_output"
            }
        test "pooling takes the first end-of-text token (row 2: position 40)" {
            let out, case = run.Force()
            let row = case["input_ids"].select(0L, 2L).data<int64>().ToArray()
            Expect.equal (Array.findIndex ((=) 999L) row) 40 "the first <|endoftext|> (999) is at position 40"
            use at40 = out.LastHiddenState[2L, 40L]
            expectClose (out.PoolerOutput[2L]) at40 "pooled row 2"
        }
    ]

/// Prompt and "" ids are rows 0 and 1 of the text-encoder case of the same pipeline and tokenizer.
let private promptIds textCase =
    let index = indexEntry textCase
    let rows = index.GetProperty("rows").EnumerateArray() |> Seq.toArray
    let ids = (caseTensors textCase)["input_ids"]
    rows[0].GetProperty("text").GetString(), rows[1].GetProperty("text").GetString(), ids.narrow(0L, 0L, 1L), ids.narrow(0L, 1L, 1L)

let private sdEncodePrompt family =
    test $"{family}: prompt = last hidden state of the prompt, negative = of \"\"" {
        TorchRuntime.Initialize()
        let e = encoders |> List.find (fun e -> e.Case = $"{family}_text_encoder")
        let prompt, empty, ids, emptyIds = promptIds e.Case
        Expect.equal prompt ((indexEntry $"{family}_encode_prompt").GetProperty("prompt").GetString()) "same prompt as the encode_prompt case"
        Expect.equal empty "" "row 1 is the empty prompt"
        let encoder = StableDiffusionPromptEncoder(loadedEncoder e :?> CLIPTextModel)
        use encoded = encoder.EncodePrompt(PromptTokenIds ids, PromptTokenIds emptyIds)
        let expected = caseTensors $"{family}_encode_prompt"
        expectClose encoded.Prompt.PromptEmbeds expected["prompt_embeds"] "prompt_embeds"
        expectClose encoded.Negative.PromptEmbeds expected["negative_prompt_embeds"] "negative_prompt_embeds"
        Expect.isNull encoded.Prompt.PooledPromptEmbeds "no pooled embeds for SD"
        Expect.isFalse encoded.Prompt.PromptEmbeds.requires_grad "encoded without autograd"
    }

let private sdxlEncoder forceZeros =
    let first = loadedEncoder encoders[2] :?> CLIPTextModel
    let second = loadedEncoder encoders[3] :?> CLIPTextModelWithProjection
    StableDiffusionXLPromptEncoder(first, second, forceZeros)

let private realArchitecture (key: string) projection =
    test $"{key}: names, shapes and parameter count of the real checkpoint, built on meta" {
        TorchRuntime.Initialize()
        use doc = JsonDocument.Parse(File.ReadAllText(Fixtures.path [ "manifests"; "real-architectures.json" ]))
        let entry = doc.RootElement.GetProperty key
        let config = JsonSerializer.Deserialize<CLIPTextConfig>(entry.GetProperty("config").GetRawText(), DiffusersConfig.Options)
        let manifest =
            entry.GetProperty("tensors").EnumerateObject()
            |> Seq.map (fun p -> p.Name, p.Value.EnumerateArray() |> Seq.map (fun d -> d.GetInt64()) |> Seq.toArray)
            |> Map.ofSeq
        let m = (use _ = LayoutGuidance.Models.MetaDevice.Scope() in build config projection)
        let tensors = TestTensors.moduleTensors m
        Expect.isTrue (tensors |> Map.forall (fun _ t -> t.is_meta)) "nothing allocated"
        Expect.equal (Set.ofSeq manifest.Keys - Set.ofSeq tensors.Keys) checkpointOnly "the manifest's only extra key is position_ids"
        Expect.isEmpty (Set.ofSeq tensors.Keys - Set.ofSeq manifest.Keys) "no module tensor outside the manifest"
        for KeyValue (name, t) in tensors do
            Expect.sequenceEqual t.shape manifest[name] $"shape of {name}"
        let count = m.parameters () |> Seq.sumBy (fun p -> p.numel ())
        let expected = entry.GetProperty("num_parameters").GetInt64()
        let positionIds = checkpointOnly |> Seq.sumBy (fun k -> Array.fold (*) 1L manifest[k])
        Expect.equal (manifest |> Map.toSeq |> Seq.sumBy (fun (_, s) -> Array.fold (*) 1L s)) (expected + positionIds) "the manifest's count leaves position_ids out"
        Expect.equal count expected "parameter count"
    }

[<Tests>]
let tests =
    testList "text encoder" [
        testList "CLIPTextConfig" [
            test "reads the fixture configs" {
                let c = readConfig "tiny-sdxl" "text_encoder_2"
                Expect.equal (c.HiddenSize, c.ProjectionDim, c.NumHiddenLayers, c.NumAttentionHeads, c.HiddenAct, c.EosTokenId)
                             (48, 40, 3, 4, "gelu", 2) "tiny-sdxl text_encoder_2"
                Expect.equal (readConfig "tiny-sd15" "text_encoder").HiddenAct "quick_gelu" "tiny-sd15 activation"
            }
            test "missing keys take transformers 4.32 defaults" {
                let c = CLIPTextConfig.Read(writeConfig "{}")
                Expect.equal (c.VocabSize, c.HiddenSize, c.IntermediateSize, c.ProjectionDim, c.NumHiddenLayers, c.NumAttentionHeads)
                             (49408, 512, 2048, 512, 12, 8) "sizes"
                Expect.equal (c.MaxPositionEmbeddings, c.HiddenAct, c.LayerNormEps, c.PadTokenId, c.BosTokenId, c.EosTokenId)
                             (77, "quick_gelu", 1e-5, 1, 49406, 49407) "the rest"
            }
            test "an unknown hidden_act names the file, key and value" {
                let file = writeConfig """{"hidden_act": "swish", "hidden_size": 32, "num_attention_heads": 4}"""
                let e = raised<ConfigException> (fun () -> CLIPTextConfig.Read file |> ignore)
                Expect.stringContains e.Message file "file"
                Expect.stringContains e.Message "hidden_act \"swish\"" "key and value"
                Expect.stringContains e.Message "quick_gelu" "what is supported"
            }
            test "hidden_size must divide into heads" {
                let e = raised<ConfigException> (fun () -> CLIPTextConfig.Read(writeConfig """{"hidden_size": 30, "num_attention_heads": 4}""") |> ignore)
                Expect.stringContains e.Message "num_attention_heads 4" "names both keys"
            }
            test "models refuse a config built in code that cannot run" {
                TorchRuntime.Initialize()
                let bad = CLIPTextConfig(HiddenAct = "relu")
                Expect.throwsT<ConfigException> (fun () -> new CLIPTextModel(bad) |> ignore) "CLIPTextModel"
                Expect.throwsT<ConfigException> (fun () -> new CLIPTextModelWithProjection(bad) |> ignore) "CLIPTextModelWithProjection"
            }
        ]
        testList "reference parity (transformers 4.32)" [ for e in encoders -> parity e ]
        test "eos_token_id other than 2 pools at the first occurrence of that id" {
            TorchRuntime.Initialize()
            let e = encoders[1]
            let json = File.ReadAllText(Fixtures.path [ e.Pipeline; e.Component; "config.json" ])
            Expect.stringContains json "\"eos_token_id\": 2," "fixture config has the legacy eos_token_id"
            let config = CLIPTextConfig.Read(writeConfig (json.Replace("\"eos_token_id\": 2,", "\"eos_token_id\": 999,")))
            Expect.equal config.EosTokenId 999 "edited config"
            let m = loaded e.Pipeline e.Component false config
            let case = caseTensors e.Case
            use _ = torch.no_grad ()
            use out = m.call case["input_ids"]
            expectClose out.PoolerOutput case["pooler_output"] "pooler_output (end-of-text 999 is also the largest id)"
        }
        test "input_ids longer than max_position_embeddings are refused" {
            TorchRuntime.Initialize()
            let m = new CLIPTextModel(readConfig "tiny-sd15" "text_encoder")
            use ids = torch.zeros ([| 1L; 78L |], dtype = torch.int64)
            let e = raised<ArgumentException> (fun () -> m.call ids |> ignore)
            Expect.stringContains e.Message "max_position_embeddings 77" "names the limit"
        }
        test "a forward pass leaves only its outputs alive" {
            TorchRuntime.Initialize()
            let m = loadedEncoder encoders[3]
            use ids = (caseTensors encoders[3].Case)["input_ids"]
            use _ = torch.no_grad ()
            let live () = DisposeScopeManager.Statistics.ThreadTotalLiveCount
            (m.call ids).Dispose()
            let before = live ()
            let out = m.call ids
            let outputs = 3L + int64 out.HiddenStates.Count
            Expect.equal (live () - before) outputs "last, pooled, text_embeds and hidden states"
            out.Dispose()
            Expect.equal (live ()) before "all released"
        }
        testList "encode_prompt (diffusers 0.21)" [
            sdEncodePrompt "sd15"
            sdEncodePrompt "sd21"
            test "sdxl: penultimate states of both encoders, pooled text_embeds, zeros for a missing negative" {
                TorchRuntime.Initialize()
                let prompt, _, ids, _ = promptIds "sdxl_text_encoder"
                let _, _, ids2, _ = promptIds "sdxl_text_encoder_2"
                Expect.equal prompt ((indexEntry "sdxl_encode_prompt").GetProperty("prompt").GetString()) "same prompt as the encode_prompt case"
                let encoder = sdxlEncoder true
                Expect.isTrue encoder.ZerosForMissingNegativePrompt "force_zeros_for_empty_prompt"
                use encoded = encoder.EncodePrompt(PromptTokenIds(ids, ids2), null)
                let expected = caseTensors "sdxl_encode_prompt"
                expectClose encoded.Prompt.PromptEmbeds expected["prompt_embeds"] "prompt_embeds"
                expectClose encoded.Prompt.PooledPromptEmbeds expected["pooled_prompt_embeds"] "pooled_prompt_embeds"
                expectClose encoded.Negative.PromptEmbeds expected["negative_prompt_embeds"] "negative_prompt_embeds"
                expectClose encoded.Negative.PooledPromptEmbeds expected["negative_pooled_prompt_embeds"] "negative_pooled_prompt_embeds"
                Expect.equal (expected["negative_prompt_embeds"].count_nonzero().item<int64> ()) 0L "reference negative is zeros"
            }
            test "sdxl: a given negative prompt is embedded like the prompt" {
                TorchRuntime.Initialize()
                let _, _, ids, emptyIds = promptIds "sdxl_text_encoder"
                let _, _, ids2, emptyIds2 = promptIds "sdxl_text_encoder_2"
                let encoder = sdxlEncoder true
                use encoded = encoder.EncodePrompt(PromptTokenIds(ids, ids2), PromptTokenIds(emptyIds, emptyIds2))
                let first = caseTensors "sdxl_text_encoder"
                let second = caseTensors "sdxl_text_encoder_2"
                use expected = torch.cat ([| first["penultimate_hidden_state"].narrow(0L, 1L, 1L); second["penultimate_hidden_state"].narrow(0L, 1L, 1L) |], -1L)
                expectClose encoded.Negative.PromptEmbeds expected "negative_prompt_embeds of \"\""
                expectClose encoded.Negative.PooledPromptEmbeds (second["text_embeds"].narrow(0L, 1L, 1L)) "negative pooled of \"\""
            }
            test "a missing negative needs the ids of \"\" unless zeros are forced" {
                TorchRuntime.Initialize()
                let _, _, ids, _ = promptIds "sdxl_text_encoder"
                let _, _, ids2, _ = promptIds "sdxl_text_encoder_2"
                let sdxl = sdxlEncoder false
                Expect.throwsT<ArgumentNullException> (fun () -> sdxl.EncodePrompt(PromptTokenIds(ids, ids2), null) |> ignore) "SDXL without force_zeros"
                let sd = StableDiffusionPromptEncoder(new CLIPTextModel(readConfig "tiny-sd15" "text_encoder"))
                Expect.throwsT<ArgumentNullException> (fun () -> sd.EncodePrompt(PromptTokenIds ids, null) |> ignore) "SD"
            }
            test "sdxl needs ids from both tokenizers, SD from one" {
                TorchRuntime.Initialize()
                let _, _, ids, _ = promptIds "sdxl_text_encoder"
                Expect.throwsT<ArgumentException> (fun () -> (sdxlEncoder true).Encode(PromptTokenIds ids) |> ignore) "SDXL without InputIds2"
                let sd = StableDiffusionPromptEncoder(new CLIPTextModel(readConfig "tiny-sd15" "text_encoder"))
                Expect.throwsT<ArgumentException> (fun () -> sd.Encode(PromptTokenIds(ids, ids)) |> ignore) "SD with InputIds2"
            }
            test "sdxl add_time_ids = original_size + crops_coords_top_left + target_size" {
                TorchRuntime.Initialize()
                let case = indexEntry "sdxl_encode_prompt"
                let pair (key: string) = let a = case.GetProperty(key).EnumerateArray() |> Seq.map (fun v -> v.GetInt32()) |> Seq.toArray in struct (a[0], a[1])
                use ids = StableDiffusionXLPromptEncoder.AddTimeIds(pair "original_size", pair "crops_coords_top_left", pair "target_size")
                Expect.equal ids.dtype torch.float32 "float32"
                let expected = caseTensors "sdxl_encode_prompt"
                expectClose ids expected["add_time_ids"] "add_time_ids"
                use asymmetric = StableDiffusionXLPromptEncoder.AddTimeIds(struct (1024, 768), struct (16, 8), struct (512, 384))
                Expect.equal (asymmetric.data<float32>().ToArray()) [| 1024f; 768f; 16f; 8f; 512f; 384f |] "order: (h, w), (top, left), (h, w)"
            }
        ]
        testList "real architectures" [
            realArchitecture "text/clip-l" false
            realArchitecture "text/openclip-h" false
            realArchitecture "text/openclip-bigg-proj" true
        ]
    ]
