module LayoutGuidance.Tests.TokenizerTests

open System
open System.IO
open System.Text.Json
open Expecto
open TorchSharp
open LayoutGuidance.Native
open LayoutGuidance.Text
open LayoutGuidance.Weights

/// The real CLIP vocabulary is not part of the repository: LAYOUTGUIDANCE_CLIP_VOCAB, else ../shared/clip-tokenizer.
let private clipVocab =
    match Environment.GetEnvironmentVariable "LAYOUTGUIDANCE_CLIP_VOCAB" with
    | null | "" ->
        let shared = Path.GetFullPath(Path.Combine(Fixtures.repoRoot, "..", "shared", "clip-tokenizer"))
        if File.Exists(Path.Combine(shared, "vocab.json")) && File.Exists(Path.Combine(shared, "merges.txt")) then Ok shared
        else
            Error(
                $"real CLIP vocabulary not found: LAYOUTGUIDANCE_CLIP_VOCAB is unset and {shared} has no vocab.json + merges.txt. "
                + "Set LAYOUTGUIDANCE_CLIP_VOCAB to a folder holding openai/clip-vit-large-patch14's tokenizer vocab.json and merges.txt.")
    | folder -> Ok folder // set on purpose: a wrong folder fails the tests instead of skipping them

let private withClipVocab (f: string -> unit) =
    match clipVocab with
    | Ok folder -> f folder
    | Error message -> skiptest message

/// The real vocabulary with an SD2.x-style config (pad token '!'), in a scratch folder.
let private padZeroFolder =
    lazy
        (match clipVocab with
         | Ok folder ->
             let dir = Fixtures.tempDir ()
             for file in [ "vocab.json"; "merges.txt" ] do
                 File.Copy(Path.Combine(folder, file), Path.Combine(dir, file))
             File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"pad_token": "!", "model_max_length": 77}""")
             dir
         | Error message -> failwith message)

let private realTokenizers =
    let make pad normalization =
        lazy
            (match clipVocab with
             | Ok folder -> ClipTokenizer.FromPretrained((if pad = "zero" then padZeroFolder.Value else folder), normalization)
             | Error message -> failwith message)
    dict [ for pad in [ "eos"; "zero" ] do
               for n in [ ClipTextNormalization.BasicTokenizer; ClipTextNormalization.Ftfy ] do
                   (pad, n), make pad n ]

let private tiny (pipeline: string) (tokenizer: string) =
    ClipTokenizer.FromPretrained(Fixtures.path [ pipeline; tokenizer ])

let private ints (e: JsonElement) = [ for x in e.EnumerateArray() -> x.GetInt32() ]
let private strings (e: JsonElement) = [ for x in e.EnumerateArray() -> x.GetString() ]

let private caseFile = lazy (JsonDocument.Parse(File.ReadAllText(Fixtures.path [ "cases"; "tokenizer"; "clip_tokenizer_cases.json" ])))

let private parityCase (case: JsonElement) (variant: string) normalization =
    let prompt = case.GetProperty("prompt").GetString()
    let field name = case.GetProperty($"{variant}_{name}")
    let shown =
        let visible = String.Concat(prompt |> Seq.truncate 40 |> Seq.map (fun c -> if Char.IsControl c || Char.IsWhiteSpace c then " " else string c))
        "\"" + visible + (if prompt.Length > 40 then "…\"" else "\"")
    let index = case.GetProperty("index").GetInt32()
    test $"case {index} ({variant}) {shown}" {
        withClipVocab (fun _ ->
            let enc = realTokenizers.[("eos", normalization)].Value.Encode prompt
            Expect.equal enc.NormalizedText (field("normalized_text").GetString()) "normalized_text"
            Expect.equal (List.ofSeq enc.Tokens) (strings (field "tokens")) "tokens"
            Expect.equal (List.ofSeq enc.UnpaddedIds) (ints (field "ids_unpadded")) "ids_unpadded"
            Expect.equal (List.ofSeq enc.InputIds) (ints (field "ids_pad_eos")) "ids_pad_eos"
            Expect.equal enc.IsTruncated (case.GetProperty("truncated").GetBoolean()) "truncated"
            let expectedPieces =
                [ for p in field("pieces").EnumerateArray() ->
                      p.GetProperty("piece").GetString(), strings (p.GetProperty "tokens"), ints (p.GetProperty "positions") ]
            let pieces = [ for p in enc.Pieces -> p.Text, List.ofSeq p.Tokens, List.ofSeq p.Positions ]
            Expect.equal pieces expectedPieces "pieces"
            let padZero = realTokenizers.[("zero", normalization)].Value.Encode prompt
            Expect.equal (List.ofSeq padZero.InputIds) (ints (field "ids_pad_zero")) "ids_pad_zero"
            match case.TryGetProperty $"{variant}_phrase_word_positions" with
            | true, words ->
                for w in words.EnumerateObject() do
                    Expect.notEqual w.Value.ValueKind JsonValueKind.Null $"word {w.Name} is in the prompt"
                    Expect.equal (List.ofArray (PhraseTokens.Locate(enc, Phrase.Of w.Name))) (ints w.Value) $"positions of {w.Name}"
                // Every fixture phrase is a run of consecutive words: its positions are theirs, in order.
                for phrase in Phrase.ParseList(case.GetProperty("phrases").GetString()) do
                    let perWord = [ for w in phrase.Text.Split(' ') do yield! ints (words.GetProperty w) ]
                    Expect.equal (List.ofArray (PhraseTokens.Locate(enc, phrase))) perWord $"positions of {phrase}"
            | _ -> ())
    }

/// Runs f, which must raise 'e, and returns that exception for its message to be checked.
let private raises<'e when 'e :> exn> (f: unit -> unit) (what: string) : 'e =
    try
        f ()
        failtestf "%s: no %s was raised" what typeof<'e>.Name
    with :? 'e as e -> e

let private expectPhraseError (enc: ClipEncoding) (phrase: Phrase) (mustMention: string list) =
    let e = raises<PhraseTokensException> (fun () -> PhraseTokens.Locate(enc, phrase) |> ignore) $"{phrase} is rejected"
    for s in mustMention do
        Expect.stringContains e.Message s "error message"
    Expect.equal e.Phrase phrase "the exception names the phrase"

[<Tests>]
let tests =
    testList "tokenizer" [
        testList "real CLIP vocabulary: transformers parity" [
            for case in caseFile.Value.RootElement.GetProperty("cases").EnumerateArray() do
                parityCase case "no_ftfy" ClipTextNormalization.BasicTokenizer
                parityCase case "ftfy" ClipTextNormalization.Ftfy
        ]

        testList "tiny pipeline tokenizers give the text-encoder fixtures' input ids" [
            let index = JsonDocument.Parse(File.ReadAllText(Fixtures.path [ "cases"; "text_encoder"; "index.json" ]))
            for case in index.RootElement.GetProperty("cases").EnumerateArray() do
                match case.TryGetProperty "rows" with
                | true, rows ->
                    let name = case.GetProperty("name").GetString()
                    let pipeline = case.GetProperty("pipeline").GetString()
                    let folder = if case.GetProperty("component").GetString() = "text_encoder_2" then "tokenizer_2" else "tokenizer"
                    test $"{name}: {pipeline}/{folder}" {
                        TorchRuntime.Initialize()
                        let tokenizer = tiny pipeline folder
                        Expect.equal tokenizer.PadTokenId (case.GetProperty("pad_token_id").GetInt32()) "pad token id"
                        use file = SafeTensorsFile.Open(Fixtures.path [ "cases"; "text_encoder"; case.GetProperty("file").GetString() ])
                        use ids = file.Load "input_ids"
                        for row in 0..1 do
                            let text = rows.[row].GetProperty("text").GetString()
                            let expected = [ for v in ids.[int64 row].data<int64>().ToArray() -> int v ]
                            Expect.equal (List.ofSeq (tokenizer.Encode(text).InputIds)) expected $"row {row}: {JsonSerializer.Serialize text}"
                    }
                | _ -> ()
        ]

        testList "phrase token positions" [
            let sd15 = lazy (tiny "tiny-sd15" "tokenizer")
            test "a word split into several BPE tokens gives all of them" {
                let enc = sd15.Value.Encode "A hello kitty toy is playing with a purple ball."
                Expect.equal (List.ofSeq enc.Tokens |> List.skip 2 |> List.take 3) [ "kit"; "t"; "y</w>" ] "tiny vocabulary splits kitty"
                Expect.equal (PhraseTokens.Locate(enc, Phrase.Of "kitty")) [| 3; 4; 5 |] "kitty"
            }
            test "several words give all their tokens, in order" {
                let enc = sd15.Value.Encode "A hello kitty toy is playing with a purple ball."
                Expect.equal (PhraseTokens.Locate(enc, Phrase.Of "hello kitty")) [| 2; 3; 4; 5 |] "hello kitty"
                Expect.equal (PhraseTokens.Locate(enc, Phrase.ParseList "Hello Kitty; ball") |> List.ofSeq)
                    [ [| 2; 3; 4; 5 |]; [| 16 |] ] "phrase list, matched case-insensitively"
            }
            test "a repeated word resolves to its first occurrence unless another is asked for" {
                let enc = sd15.Value.Encode "a photo of a red cat sitting on a wooden table"
                Expect.equal (PhraseTokens.Locate(enc, Phrase.Of "a")) [| 1 |] "first"
                Expect.equal (PhraseTokens.Locate(enc, Phrase.Of("a", 2))) [| 4 |] "second"
                Expect.equal (PhraseTokens.Locate(enc, Phrase.Of("a", 3))) [| 10 |] "third"
                expectPhraseError enc (Phrase.Of("a", 4)) [ "occurs 3 time(s)"; "1 a</w>, 2 photo</w>" ]
            }
            test "only whole pieces match: a prefix of a longer word is not the word" {
                let enc = sd15.Value.Encode "a catwith zero"
                expectPhraseError enc (Phrase.Of "cat") [ "\"cat\""; "not in the prompt"; "1 a</w>, 2 ca, 3 tw" ]
            }
            test "a phrase not in the prompt is an error listing the prompt's tokens" {
                let enc = sd15.Value.Encode "a photo of a red cat sitting on a wooden table"
                expectPhraseError enc (Phrase.Of "dog") [
                    "\"dog\""
                    "1 a</w>, 2 photo</w>, 3 of</w>, 4 a</w>, 5 red</w>, 6 ca, 7 t</w>, 8 sitting</w>, 9 on</w>, 10 a</w>, 11 wooden</w>, 12 table</w>"
                ]
                expectPhraseError enc (Phrase.Of "red dog") [ "\"red dog\""; "not in the prompt" ]
            }
            test "explicit positions are taken as given and checked against the 77 ids" {
                let enc = sd15.Value.Encode "a photo of a red cat"
                Expect.equal (PhraseTokens.Locate(enc, Phrase.At(6, 7))) [| 6; 7 |] "explicit"
                Expect.equal (PhraseTokens.Locate(enc, [ Phrase.At 2; Phrase.Of "cat" ]) |> List.ofSeq) [ [| 2 |]; [| 6; 7 |] ] "mixed list"
                expectPhraseError enc (Phrase.At(3, 77)) [ "positions [3, 77]"; "0–76"; "1 a</w>" ]
                expectPhraseError enc (Phrase.At -1) [ "positions [-1]" ]
            }
            test "a phrase cut off by the 77-token truncation is an error naming it" {
                let prompt = String.replicate 80 "a " + "dog"
                let enc = sd15.Value.Encode prompt
                Expect.isTrue enc.IsTruncated "truncated"
                Expect.equal (PhraseTokens.Locate(enc, Phrase.Of("a", 75))) [| 75 |] "last kept position"
                expectPhraseError enc (Phrase.Of("a", 76)) [ "\"a\" (occurrence 76)"; "[76]"; "77-token"; "1–75" ]
                expectPhraseError enc (Phrase.Of "dog") [ "\"dog\""; "[81]" ]
            }
            test "a phrase with nothing left after cleanup is an error" {
                let enc = sd15.Value.Encode "a photo"
                expectPhraseError enc (Phrase.Of "\u200b") [ "no tokens" ]
            }
        ]

        testList "encoding" [
            test "SD1.5 pads with <|endoftext|>, SD2.x and SDXL's tokenizer_2 with '!' (id 0)" {
                Expect.equal (tiny "tiny-sd15" "tokenizer").PadTokenId 999 "sd15"
                Expect.equal (tiny "tiny-sd21" "tokenizer").PadTokenId 0 "sd21"
                Expect.equal (tiny "tiny-sdxl" "tokenizer").PadTokenId 999 "sdxl tokenizer"
                Expect.equal (tiny "tiny-sdxl" "tokenizer_2").PadTokenId 0 "sdxl tokenizer_2"
                let enc = (tiny "tiny-sd21" "tokenizer").Encode "a cat"
                Expect.equal (List.ofSeq enc.InputIds |> List.take 5) [ 998; 320; 541; 339; 999 ] "start, a, ca, t, end"
                Expect.equal (List.ofSeq enc.InputIds |> List.skip 5 |> List.distinct) [ 0 ] "padding"
                Expect.equal enc.EndPosition 4 "end position"
            }
            test "the pad token is only padding: a literal '!' is BPE punctuation" {
                let enc = (tiny "tiny-sd21" "tokenizer").Encode "fresh!"
                Expect.equal (List.ofSeq enc.UnpaddedIds) [ 998; 69; 830; 327; 256; 999 ] "'!</w>' is 256"
            }
            test "literal start and end tokens in a prompt become their ids" {
                let enc = (tiny "tiny-sd15" "tokenizer").Encode "a <|endoftext|> b<|startoftext|>"
                Expect.equal (List.ofSeq enc.UnpaddedIds) [ 998; 320; 999; 321; 998; 999 ] "ids"
            }
            test "truncation keeps the start token, 75 prompt tokens and the end token" {
                let enc = (tiny "tiny-sd15" "tokenizer").Encode(String.replicate 100 "a ")
                Expect.equal enc.UnpaddedIds.Count 102 "untruncated"
                Expect.equal (List.ofSeq enc.InputIds) ([ 998 ] @ List.replicate 75 320 @ [ 999 ]) "77 ids"
                Expect.equal enc.EndPosition 76 "end position"
            }
        ]

        testList "text cleanup" [
            let sd15 normalization = ClipTokenizer.FromPretrained(Fixtures.path [ "tiny-sd15"; "tokenizer" ], normalization)
            let normalized normalization text = (sd15 normalization).Encode(text).NormalizedText
            test "lower-casing follows Python: final sigma and dotted capital I" {
                for n in [ ClipTextNormalization.BasicTokenizer; ClipTextNormalization.Ftfy ] do
                    Expect.equal (normalized n "ΟΔΟΣ ΣΑΣ.") "οδος σας." $"{n}: word-final sigma"
                    Expect.equal (normalized n "İstanbul") "i\u0307stanbul" $"{n}: İ"
            }
            test "ftfy cleanup leaves HTML entities alone on a line that holds '<'" {
                Expect.equal (normalized ClipTextNormalization.Ftfy "fish &amp; chips") "fish & chips" "decoded"
                Expect.equal (normalized ClipTextNormalization.Ftfy "<b>fish &amp; chips") "<b>fish &amp; chips" "left alone"
                Expect.equal (normalized ClipTextNormalization.BasicTokenizer "fish &amp; chips") "fish &amp; chips" "BasicTokenizer keeps entities"
            }
            test "ftfy cleanup refuses mojibake it cannot repair the way ftfy would" {
                let e = raises<ClipTokenizerException> (fun () -> normalized ClipTextNormalization.Ftfy "a cafÃ© in paris" |> ignore) "refused"
                Expect.stringContains e.Message "Ã©" "names the sequence"
                Expect.equal (normalized ClipTextNormalization.BasicTokenizer "a cafÃ© in paris") "a cafã© in paris" "BasicTokenizer keeps it"
            }
        ]

        testList "loading" [
            test "special_tokens_map.json overrides tokenizer_config.json" {
                let dir = Fixtures.tempDir ()
                for file in [ "vocab.json"; "merges.txt" ] do
                    File.Copy(Fixtures.path [ "tiny-sd15"; "tokenizer"; file ], Path.Combine(dir, file))
                File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"pad_token": {"__type": "AddedToken", "content": "<|endoftext|>"}, "model_max_length": 10}""")
                Expect.equal (ClipTokenizer.FromPretrained dir).PadTokenId 999 "from tokenizer_config.json"
                File.WriteAllText(Path.Combine(dir, "special_tokens_map.json"), """{"pad_token": "!"}""")
                let t = ClipTokenizer.FromPretrained dir
                Expect.equal t.PadTokenId 0 "from special_tokens_map.json"
                Expect.equal t.MaxLength 10 "model_max_length"
                Expect.equal (t.Encode "a cat").InputIds.Count 10 "padded to model_max_length"
            }
            test "a folder without vocab.json is an error naming the file" {
                let dir = Fixtures.tempDir ()
                let e = raises<ClipTokenizerException> (fun () -> ClipTokenizer.FromPretrained dir |> ignore) "missing vocab"
                Expect.stringContains e.Message (Path.Combine(dir, "vocab.json")) "names the file"
            }
            test "a pad token missing from the vocabulary is an error naming it" {
                let dir = Fixtures.tempDir ()
                for file in [ "vocab.json"; "merges.txt" ] do
                    File.Copy(Fixtures.path [ "tiny-sd15"; "tokenizer"; file ], Path.Combine(dir, file))
                File.WriteAllText(Path.Combine(dir, "special_tokens_map.json"), """{"pad_token": "<pad>"}""")
                let e = raises<ClipTokenizerException> (fun () -> ClipTokenizer.FromPretrained dir |> ignore) "unknown pad"
                Expect.stringContains e.Message "pad_token \"<pad>\"" "names the token"
            }
        ]
    ]
