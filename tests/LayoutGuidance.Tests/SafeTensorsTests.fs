module LayoutGuidance.Tests.SafeTensorsTests

open System
open System.IO
open System.Text
open Expecto
open FsCheck
open FsCheck.FSharp
open TorchSharp
open LayoutGuidance.Native
open LayoutGuidance.Weights

let private scratch = lazy (Fixtures.tempDir ())

/// The exception of type 'E that `f` throws; fails the test when it throws nothing or something else.
let thrown<'E when 'E :> exn> (f: unit -> unit) : 'E =
    try
        f ()
        failtestf "expected %s, nothing was thrown" typeof<'E>.Name
    with
    | :? 'E as e -> e
    | e when (e :? AssertException) -> raise e
    | e -> failtestf "expected %s, got %s: %s" typeof<'E>.Name (e.GetType().Name) e.Message

/// Writes a file in the scratch folder, runs `f` on its path, deletes it.
let private withFile (bytes: byte[]) (f: string -> 'a) =
    let path = Path.Combine(scratch.Force(), Guid.NewGuid().ToString("N") + ".safetensors")
    File.WriteAllBytes(path, bytes)
    try f path finally File.Delete path

let private assemble (prefix: uint64) (header: byte[]) (data: byte[]) =
    Array.concat [ BitConverter.GetBytes prefix; header; data ]

let private rawFile (header: string) (data: byte[]) =
    let h = Encoding.UTF8.GetBytes header
    assemble (uint64 h.Length) h data

/// A tensor of the given dtype and shape holding exactly `bytes`.
let private tensorOf (dtype: SafeTensorsDType) (shape: int64[]) (bytes: byte[]) =
    let t = torch.empty(shape, dtype.ToScalarType())
    bytes.AsSpan().CopyTo(t.bytes)
    t

let private saved (tensors: (string * torch.Tensor) list) (metadata: (string * string) list) =
    let path = Path.Combine(scratch.Force(), Guid.NewGuid().ToString("N") + ".safetensors")
    SafeTensorsWriter.Save(path, dict tensors, readOnlyDict metadata)
    let bytes = File.ReadAllBytes path
    File.Delete path
    bytes

let private elementBytes (info: SafeTensorInfo) = info.ByteLength

/// The contract of the reader on any input: a typed exception naming the file, or a file whose every
/// tensor loads (as stored and converted), with no more tensor bytes and no more managed allocation
/// than the file's size justifies.
let private opensOrRejects (bytes: byte[]) =
    withFile bytes (fun path ->
        let before = GC.GetAllocatedBytesForCurrentThread()
        let outcome =
            try
                use f = SafeTensorsFile.Open path
                let mutable total = 0L
                for info in f.Tensors do
                    use t = f.Load info.Name
                    Expect.equal t.shape info.Shape $"shape of {info.Name}"
                    Expect.equal t.dtype (info.DType.ToScalarType()) $"dtype of {info.Name}"
                    Expect.equal (t.bytes.ToArray()) (f.Bytes(info).ToArray()) $"bytes of {info.Name}"
                    use converted = f.Load(info.Name, torch.float32)
                    Expect.equal converted.shape info.Shape "converted shape"
                    total <- total + elementBytes info
                Expect.isLessThanOrEqual total (int64 bytes.Length) "tensor bytes within the file"
                "opened"
            with :? SafeTensorsException as e ->
                Expect.equal e.FilePath path "exception names the file"
                Expect.stringContains e.Message path "message names the file"
                "rejected"
        let allocated = GC.GetAllocatedBytesForCurrentThread() - before
        Expect.isLessThan allocated (16L * int64 bytes.Length + 100_000L) "managed allocation bounded by the file size"
        outcome)

let private rejects (bytes: byte[]) (fragment: string) =
    withFile bytes (fun path ->
        let e = thrown<SafeTensorsException> (fun () -> (SafeTensorsFile.Open path).Dispose())
        Expect.equal e.FilePath path "names the file"
        Expect.stringContains e.Message fragment "reason")

let private opens (bytes: byte[]) =
    Expect.equal (opensOrRejects bytes) "opened" "a valid file opens"

// ---- generators --------------------------------------------------------------------------------

let private dtypes = Enum.GetValues<SafeTensorsDType>()

let private genBytes n = Gen.arrayOfLength n (Gen.choose (0, 255) |> Gen.map byte)

/// Contents for a tensor: booleans stay 0/1, everything else is any bit pattern (NaNs, denormals included).
let private genContents (dtype: SafeTensorsDType) (shape: int64[]) =
    let n = int (Array.fold (*) 1L shape) * dtype.ElementSize()
    if dtype = SafeTensorsDType.BOOL then Gen.arrayOfLength n (Gen.elements [ 0uy; 1uy ]) else genBytes n

let private genName =
    let pieces = [ "a"; "b"; "z"; "0"; "."; "_"; " "; "\""; "\\"; "\n"; "\u0000"; "é"; "中"; "😀"; "/"; "{"; "]" ]
    Gen.choose (0, 6) |> Gen.bind (fun n -> Gen.listOfLength n (Gen.elements pieces)) |> Gen.map String.Concat

type private Spec = { Name: string; DType: SafeTensorsDType; Shape: int64[]; Contents: byte[] }

let private genSpec =
    gen {
        let! name = genName
        let! dtype = Gen.elements dtypes
        let! rank = Gen.choose (0, 3)
        let! shape = Gen.arrayOfLength rank (Gen.choose (0, 4) |> Gen.map int64)
        let! contents = genContents dtype shape
        return { Name = name; DType = dtype; Shape = shape; Contents = contents }
    }

let private genSpecs = Gen.choose (0, 5) |> Gen.bind (fun n -> Gen.listOfLength n genSpec) |> Gen.map (List.distinctBy _.Name)

let private genMetadata =
    Gen.choose (0, 3) |> Gen.bind (fun n -> Gen.listOfLength n (Gen.zip genName genName)) |> Gen.map (List.distinctBy fst)

let private fileOf (specs: Spec list) (metadata: (string * string) list) =
    let tensors = specs |> List.map (fun s -> s.Name, tensorOf s.DType s.Shape s.Contents)
    try saved tensors metadata finally for _, t in tensors do t.Dispose()

let private genValidFile = Gen.map2 fileOf genSpecs genMetadata

let private headerLength (file: byte[]) = int (BitConverter.ToUInt64(file, 0))

/// A header entry as raw JSON pieces, so that each piece can be replaced by a lie.
type private RawEntry = { Key: string; DType: string; Shape: string; Begin: int64; End: int64; Offsets: string option; Extra: string }

let private json (s: string) = Text.Json.JsonSerializer.Serialize s

let private rawEntries (specs: Spec list) =
    let mutable offset = 0L
    [ for s in specs ->
        let n = int64 s.Contents.Length
        let e = { Key = json s.Name; DType = json (string s.DType); Shape = "[" + String.Join(",", s.Shape) + "]"
                  Begin = offset; End = offset + n; Offsets = None; Extra = "" }
        offset <- offset + n
        e ]

let private renderHeader (entries: RawEntry list) (metadata: string option) =
    let body =
        [ yield! metadata |> Option.map (fun m -> "\"__metadata__\":" + m) |> Option.toList
          for e in entries ->
            let offsets = e.Offsets |> Option.defaultValue $"[{e.Begin},{e.End}]"
            $"{e.Key}:{{\"dtype\":{e.DType},\"shape\":{e.Shape},\"data_offsets\":{offsets}{e.Extra}}}" ]
    "{" + String.Join(",", body) + "}"

let private lyingNumbers =
    [ "-1"; "-0"; "1.5"; "1e3"; "1e400"; "18446744073709551616"; "9223372036854775807"; "-9223372036854775808"
      "NaN"; "Infinity"; "\"3\""; "null"; "true"; "[]"; "{}"; "4611686018427387904"; "0" ]

/// One lie about one entry (or about the whole header), applied to otherwise valid raw entries.
let private genLie (entries: RawEntry list) : Gen<RawEntry list * string option> =
    let index = Gen.choose (0, max 0 (entries.Length - 1))
    let onEntry (f: RawEntry -> Gen<RawEntry>) =
        if entries.IsEmpty then Gen.constant (entries, None)
        else gen {
            let! i = index
            let! e = f entries[i]
            return List.updateAt i e entries, None }
    Gen.oneof [
        onEntry (fun e -> Gen.elements [ "\"F8_E4M3\""; "\"f32\""; "\"\""; "3"; "null"; "[\"F32\"]"; "\"I64\""; "\"BOOL\""; "\"F64\"" ] |> Gen.map (fun d -> { e with DType = d }))
        onEntry (fun e -> gen {
            let! n = Gen.elements lyingNumbers
            let! form = Gen.elements [ $"[{n}]"; $"[{n},2]"; $"[2,{n}]"; $"[0,{n},{n}]"; "[[1]]"; "[[[[[1]]]]]"; n; "[1,1,1,1,1,1,1,1]"; "[]" ]
            return { e with Shape = form } })
        onEntry (fun e -> gen {
            let! a = Gen.elements lyingNumbers
            let! b = Gen.elements lyingNumbers
            let! form = Gen.elements [ $"[{a},{b}]"; $"[0,{b}]"; $"[{a}]"; $"[{a},{b},{b}]"; "[]"; a; "[1,0]" ]
            return { e with Offsets = Some form } })
        onEntry (fun e -> Gen.elements [ ",\"dtype\":\"F32\""; ",\"extra\":1"; ",\"data_offsets\":[0,0]"; ",\"shape\":[]" ] |> Gen.map (fun x -> { e with Extra = x }))
        // Duplicate names, written the way JSON allows: the same key twice, or the same name spelled with an escape.
        (if entries.IsEmpty then Gen.constant (entries, None)
         else index |> Gen.map (fun i -> entries @ [ entries[i] ], None))
        (if entries.IsEmpty then Gen.constant (entries, None)
         else index |> Gen.map (fun i -> entries @ [ { entries[i] with Key = "\"\\u0061\"" } ] @ [ { entries[i] with Key = "\"a\"" } ], None))
        // Offsets shifted so that entries overlap, leave gaps or run off the data section.
        (Gen.zip (Gen.choose (-3, 3)) (Gen.choose (-3, 3)) |> Gen.map (fun (kb, ke) ->
            entries |> List.mapi (fun i e -> if i % 2 = 1 then { e with Begin = e.Begin + int64 kb; End = e.End + int64 ke } else e), None))
        Gen.elements [ "{}"; "[]"; "\"x\""; "{\"a\":1}"; "{\"a\":\"b\",\"c\":{}}"; "null"; "{\"a\":{\"b\":{}}}" ] |> Gen.map (fun m -> entries, Some m)
    ]

// ---- tests ------------------------------------------------------------------------------------------

let private property name maxTest (arb: Arbitrary<'a>) (body: 'a -> unit) =
    testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = maxTest } name (Prop.forAll arb body)

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

        testList "valid edge cases open" [
            test "no tensors at all" { TorchRuntime.Initialize(); opens (rawFile "{}" [||]) }
            test "metadata only, padded with spaces" { TorchRuntime.Initialize(); opens (rawFile "{\"__metadata__\":{\"k\":\"v\"}}   " [||]) }
            test "a scalar and zero-size tensors" {
                TorchRuntime.Initialize()
                opens (rawFile """{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"z":{"dtype":"F16","shape":[0,3],"data_offsets":[4,4]},"w":{"dtype":"I8","shape":[0],"data_offsets":[4,4]}}""" [| 0uy; 0uy; 128uy; 63uy |])
            }
            test "loading into an existing tensor converts, and checks the shape" {
                TorchRuntime.Initialize()
                withFile (saved [ "x", torch.tensor([| 1.5f; -2.0f |]) ] []) (fun path ->
                    use f = SafeTensorsFile.Open path
                    use same = torch.zeros(2L)
                    f.CopyTo("x", same)
                    Expect.equal (same.data<float32>().ToArray()) [| 1.5f; -2.0f |] "direct copy"
                    use half = torch.zeros(2L, dtype = torch.float16)
                    f.CopyTo("x", half)
                    Expect.equal (half.to_type(torch.float32).data<float32>().ToArray()) [| 1.5f; -2.0f |] "converting copy"
                    use wrong = torch.zeros(3L)
                    Expect.throwsT<ArgumentException> (fun () -> f.CopyTo("x", wrong)) "shape checked")
            }
        ]

        testList "rejected with a reason" [
            let entry = "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"
            let four = [| 0uy; 0uy; 0uy; 0uy |]
            test "shorter than the length prefix" { rejects [| 1uy; 2uy; 3uy |] "shorter than the 8-byte" }
            test "header length over 100 MB" { rejects (assemble 100_000_001UL [||] [||]) "exceeds" }
            test "header length past the end of the file" { rejects (assemble 64UL [| 123uy |] [||]) "runs past the end" }
            test "header that is not UTF-8" { rejects (assemble 4UL [| 0x7buy; 0xffuy; 0xfeuy; 0x7duy |] [||]) "not valid UTF-8" }
            test "header that is not JSON" { rejects (rawFile "{\"a\":" [||]) "not valid UTF-8 JSON" }
            test "header that is not an object" { rejects (rawFile "[]" [||]) "not a JSON object" }
            test "duplicate tensor names" { rejects (rawFile $"{{\"a\":{entry},\"a\":{entry}}}" four) "Duplicate" }
            test "duplicate names spelled differently" { rejects (rawFile $"{{\"a\":{entry},\"\\u0061\":{entry}}}" four) "Duplicate" }
            test "duplicate field inside an entry" { rejects (rawFile "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]}}" four) "Duplicate" }
            test "deep nesting" { rejects (rawFile ("{\"a\":" + String.replicate 40 "[" + String.replicate 40 "]" + "}") [||]) "not valid UTF-8 JSON" }
            test "unknown dtype" { rejects (rawFile "{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}" [| 0uy |]) "unknown dtype 'F8_E4M3'" }
            test "negative dimension" { rejects (rawFile "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}" four) "not a non-negative integer" }
            test "fractional offset" { rejects (rawFile "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}" four) "not ordered non-negative integers" }
            test "negative offset" { rejects (rawFile "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}" four) "not ordered non-negative integers" }
            test "offsets beyond 64 bits" { rejects (rawFile "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551620]}}" four) "not ordered non-negative integers" }
            test "a name escaping a lone surrogate" { rejects (rawFile "{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}" four) "not valid Unicode" }
            test "a metadata value escaping a lone surrogate" { rejects (rawFile "{\"__metadata__\":{\"k\":\"\\udc00x\"}}" [||]) "not valid Unicode" }
            test "NaN in the header" { rejects (rawFile "{\"a\":{\"dtype\":\"F32\",\"shape\":[NaN],\"data_offsets\":[0,4]}}" four) "not valid UTF-8 JSON" }
            test "shape that disagrees with the offsets" { rejects (rawFile "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}" four) "needs 8 bytes but data_offsets span 4" }
            test "shape whose strides overflow though it holds nothing" { rejects (rawFile "{\"a\":{\"dtype\":\"F32\",\"shape\":[0,4611686018427387904,4611686018427387904],\"data_offsets\":[0,0]}}" [||]) "too large" }
            test "overlapping tensors" { rejects (rawFile "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[2,4]}}" four) "overlaps" }
            test "a gap in the data section" { rejects (rawFile "{\"a\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[2,4]}}" four) "gap" }
            test "data the header does not cover" { rejects (rawFile $"{{\"a\":{entry}}}" (Array.append four four)) "cover 4 bytes but the data section holds 8" }
            test "metadata that is not a string map" { rejects (rawFile "{\"__metadata__\":{\"k\":1}}" [||]) "__metadata__ value 'k' is not a string" }
            test "unexpected entry field" { rejects (rawFile "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":0}}" four) "unexpected field 'x'" }
            test "a missing file" {
                let e = thrown<SafeTensorsException> (fun () -> (SafeTensorsFile.Open "/nonexistent/x.safetensors").Dispose())
                Expect.stringContains e.Message "file not found" "reason"
            }
            test "a folder" {
                let e = thrown<SafeTensorsException> (fun () -> (SafeTensorsFile.Open(scratch.Force())).Dispose())
                Expect.stringContains e.Message "is a folder" "reason"
            }
        ]

        testList "misuse" [
            test "loading after Dispose is an ObjectDisposedException" {
                TorchRuntime.Initialize()
                withFile (saved [ "x", torch.ones(2L) ] []) (fun path ->
                    let f = SafeTensorsFile.Open path
                    f.Dispose()
                    f.Dispose()
                    Expect.throwsT<ObjectDisposedException> (fun () -> f.Load "x" |> ignore) "disposed")
            }
            test "raw bytes of another file's entry are refused" {
                TorchRuntime.Initialize()
                withFile (saved [ "x", torch.ones(2L) ] []) (fun p1 ->
                    withFile (saved [ "x", torch.ones(64L) ] []) (fun p2 ->
                        use small = SafeTensorsFile.Open p1
                        use big = SafeTensorsFile.Open p2
                        Expect.throwsT<ArgumentException> (fun () -> small.Bytes(big.["x"]).Length |> ignore) "foreign entry"))
            }
            test "the writer refuses duplicate, reserved and non-Unicode names" {
                TorchRuntime.Initialize()
                use t = torch.ones(1L)
                let path = Path.Combine(scratch.Force(), "w.safetensors")
                let save (names: string list) = SafeTensorsWriter.Save(path, names |> List.map (fun n -> Collections.Generic.KeyValuePair(n, t)))
                Expect.throwsT<ArgumentException> (fun () -> save [ "a"; "a" ]) "duplicate"
                Expect.throwsT<ArgumentException> (fun () -> save [ "__metadata__" ]) "reserved"
                Expect.throwsT<ArgumentException> (fun () -> save [ String([| 'b'; char 0xD800 |]) ]) "lone surrogate"
                Expect.isFalse (File.Exists path) "nothing written"
            }
        ]

        testList "properties" [
            property "random tensors written by SafeTensorsWriter read back equal" 150
                (Arb.fromGen (Gen.zip genSpecs genMetadata)) (fun (specs, metadata) ->
                TorchRuntime.Initialize()
                withFile (fileOf specs metadata) (fun path ->
                    use f = SafeTensorsFile.Open path
                    Expect.equal (f.Tensors |> Seq.map _.Name |> Set.ofSeq) (specs |> List.map _.Name |> Set.ofList) "names"
                    Expect.equal (f.Metadata |> Seq.map (fun kv -> kv.Key, kv.Value) |> Set.ofSeq) (Set.ofList metadata) "metadata"
                    for s in specs do
                        use t = f.Load s.Name
                        Expect.equal t.dtype (s.DType.ToScalarType()) "dtype"
                        Expect.equal t.shape s.Shape "shape"
                        Expect.equal (t.bytes.ToArray()) s.Contents "contents"))

            test "truncation at every length of a file is rejected" {
                TorchRuntime.Initialize()
                let file = fileOf [ { Name = "a"; DType = SafeTensorsDType.F32; Shape = [| 2L; 2L |]; Contents = Array.create 16 1uy }
                                    { Name = "b"; DType = SafeTensorsDType.I8; Shape = [| 3L |]; Contents = [| 1uy; 2uy; 3uy |] } ] [ "k", "v" ]
                for n in 0 .. file.Length - 1 do
                    Expect.equal (opensOrRejects file[.. n - 1]) "rejected" $"truncated to {n} bytes"
            }

            property "truncated random files are rejected" 150
                (Arb.fromGen (gen {
                    let! file = genValidFile
                    let h = headerLength file
                    // Length classes: inside the prefix, inside the header, header only, inside the data.
                    let! cut = Gen.oneof [ Gen.choose (0, 7); Gen.choose (8, 8 + h - 1); Gen.constant (8 + h); Gen.choose (8 + h, max (8 + h) (file.Length - 1)) ]
                    return file, min cut (file.Length - 1) }))
                (fun (file, cut) ->
                    TorchRuntime.Initialize()
                    Expect.equal (opensOrRejects file[.. cut - 1]) "rejected" $"cut at {cut} of {file.Length}")

            property "bit flips in the length prefix and header never escape the contract" 300
                (Arb.fromGen (gen {
                    let! file = genValidFile
                    let! flips = Gen.listOf (Gen.zip (Gen.choose (0, 8 + headerLength file - 1)) (Gen.choose (0, 7)))
                    let mutated = Array.copy file
                    for pos, bit in flips do mutated[pos] <- mutated[pos] ^^^ (1uy <<< bit)
                    return mutated }))
                (opensOrRejects >> ignore)

            property "lies in the header (dtype, shape, offsets, duplicates, metadata, nesting) never escape the contract" 400
                (Arb.fromGen (gen {
                    let! specs = genSpecs
                    let! entries, metadata = genLie (rawEntries specs)
                    let! dataDelta = Gen.frequency [ 4, Gen.constant 0; 1, Gen.choose (-3, 3) ]
                    let data = specs |> List.collect (fun s -> List.ofArray s.Contents) |> Array.ofList
                    let data = if dataDelta >= 0 then Array.append data (Array.zeroCreate dataDelta) else data[.. data.Length + dataDelta - 1]
                    return rawFile (renderHeader entries metadata) data }))
                (opensOrRejects >> ignore)

            property "huge and wrong length prefixes are rejected without allocating them" 200
                (Arb.fromGen (gen {
                    let! file = genValidFile
                    let h = uint64 (headerLength file)
                    let! prefix =
                        Gen.oneof [ Gen.elements [ UInt64.MaxValue; 1UL <<< 63; uint64 SafeTensorsFile.MaxHeaderBytes; uint64 SafeTensorsFile.MaxHeaderBytes + 1UL
                                                   uint64 file.Length; uint64 file.Length - 7UL; h + 1UL; h - 1UL; 0UL ]
                                    Gen.choose64 (0L, Int64.MaxValue) |> Gen.map uint64 ]
                    let mutated = Array.copy file
                    BitConverter.GetBytes(prefix).CopyTo(mutated, 0)
                    return mutated, prefix = h }))
                (fun (file, unchanged) ->
                    TorchRuntime.Initialize()
                    let outcome = opensOrRejects file
                    if not unchanged then Expect.equal outcome "rejected" "wrong prefix")

            property "random bytes never escape the contract" 200
                (Arb.fromGen (gen {
                    let! body = Gen.choose (0, 96) |> Gen.bind genBytes
                    let! prefixed = Gen.elements [ true; false ]
                    return if prefixed && body.Length >= 8 then assemble (uint64 (body.Length - 8)) body[8..] [||] else body }))
                (opensOrRejects >> ignore)
        ]
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
