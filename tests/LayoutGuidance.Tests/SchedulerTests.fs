module LayoutGuidance.Tests.SchedulerTests

open System
open System.IO
open System.Text.Json.Nodes
open Expecto
open TorchSharp
open LayoutGuidance.Native
open LayoutGuidance.Weights
open LayoutGuidance.Schedulers

let private casesDir = Fixtures.path [ "cases"; "schedulers" ]

type private Case =
    { Name: string
      File: string
      ClassName: string
      Steps: int
      Config: JsonObject
      InitNoiseSigma: float
      UsesNoise: bool }

let private cases =
    let index = JsonNode.Parse(File.ReadAllText(Path.Combine(casesDir, "index.json")))
    [ for c in index["cases"].AsArray() ->
        { Name = c["name"].GetValue<string>()
          File = c["file"].GetValue<string>()
          ClassName = c["scheduler_class"].GetValue<string>()
          Steps = c["num_inference_steps"].GetValue<int>()
          Config = c["config"].AsObject()
          InitNoiseSigma = c["init_noise_sigma"].GetValue<float>()
          UsesNoise = c["uses_noise"].GetValue<bool>() } ]

/// The case's config as a pipeline's scheduler_config.json; returns the pipeline folder.
let private writePipeline (className: string) (config: JsonObject) =
    let json = config.DeepClone().AsObject()
    json["_class_name"] <- JsonValue.Create className
    // Python's float('-inf') came out as the string "-inf"; JSON readers spell the literal "-Infinity".
    match json["lambda_min_clipped"] with
    | null -> ()
    | v when v.ToJsonString() = "\"-inf\"" -> json["lambda_min_clipped"] <- JsonValue.Create "-Infinity"
    | _ -> ()
    let root = Fixtures.tempDir ()
    Directory.CreateDirectory(Path.Combine(root, "scheduler")) |> ignore
    File.WriteAllText(Path.Combine(root, "scheduler", "scheduler_config.json"), json.ToJsonString())
    root

let private throws<'e when 'e :> exn> (f: unit -> unit) (what: string) : 'e =
    try
        f ()
        failtest $"{what}: expected {typeof<'e>.Name}, nothing was thrown"
    with
    | :? 'e as e -> e

let private writeConfig (json: string) =
    let file = Path.Combine(Fixtures.tempDir (), "scheduler_config.json")
    File.WriteAllText(file, json)
    file

let private expectClose = TestTensors.expectClose

// Scheduler steps are single float32 operations: the fixtures' README tolerance for them.
let private rtol, atol = 1e-4, 1e-5

/// Free-running, the float32 rounding of earlier steps (an ulp of values up to ~40 at σ ≈ 14.6) is carried
/// along, and an element that passes near zero cannot stay within rtol of it: sd15_LMSDiscreteScheduler_50
/// drifts ~2.5e-5 from the reference on 0.088 at step 10. So atol scales with the tensor's largest |value|.
let private freeRunningAtol (expected: torch.Tensor) = atol * max 1.0 (expected.abs().max().item<float32>() |> float)

let private create (case: Case) (noises: torch.Tensor option) =
    let folder = writePipeline case.ClassName case.Config
    match noises with
    | Some n ->
        let config = DiffusersConfig.Read<SchedulerConfig>(Path.Combine(folder, "scheduler", "scheduler_config.json"))
        new EulerAncestralDiscreteScheduler(config, StepNoise(fun i _ -> n.select(0, int64 i))) :> Scheduler
    | None -> Scheduler.FromPretrained folder

/// Runs the whole trajectory; `forced` feeds the reference x_i to every step, otherwise the scheduler's own.
let private checkTrajectory (case: Case) (forced: bool) =
    TorchRuntime.Initialize()
    use f = SafeTensorsFile.Open(Path.Combine(casesDir, case.File))
    use initial = f.Load "initial_sample"
    use modelOutputs = f.Load "model_outputs"
    use scaledInputs = f.Load "scaled_model_inputs"
    use prevSamples = f.Load "prev_samples"
    let predOriginals = if f.Contains "pred_original_samples" then Some(f.Load "pred_original_samples") else None
    let noises = if case.UsesNoise then Some(f.Load "noises") else None
    use scheduler = create case noises
    scheduler.SetTimesteps case.Steps
    let mutable x = initial.alias()
    for i in 0 .. scheduler.StepCount - 1 do
        use scope = torch.NewDisposeScope()
        let what = $"""{case.Name} step {i} ({if forced then "reference x_i" else "free-running"})"""
        let close (actual: torch.Tensor) (expected: torch.Tensor) name =
            expectClose rtol (if forced then atol else freeRunningAtol expected) actual expected $"{what}: {name}"
        use scaled = scheduler.ScaleModelInput(x, i)
        close scaled (scaledInputs.select(0, int64 i)) "scaled_model_input"
        use out = scheduler.Step(modelOutputs.select(0, int64 i), i, x)
        close out.PrevSample (prevSamples.select(0, int64 i)) "prev_sample"
        match predOriginals, out.PredOriginalSample with
        | Some reference, NonNull predicted -> close predicted (reference.select(0, int64 i)) "pred_original_sample"
        | None, Null -> ()
        | Some _, Null -> failtest $"{what}: the reference returns pred_original_sample, the scheduler does not"
        | None, NonNull _ -> failtest $"{what}: the scheduler returns a pred_original_sample the reference does not have"
        x.Dispose()
        x <- (if forced then prevSamples.select(0, int64 i) else out.PrevSample.clone()).DetachFromDisposeScope()
    x.Dispose()
    predOriginals |> Option.iter (fun t -> t.Dispose())
    noises |> Option.iter (fun t -> t.Dispose())

let private caseTests (case: Case) =
    testList case.Name [
        test "training betas and alphas_cumprod" {
            TorchRuntime.Initialize()
            use f = SafeTensorsFile.Open(Path.Combine(casesDir, case.File))
            use scheduler = create case None
            Expect.equal scheduler.ClassName case.ClassName "class"
            use betas = f.Load "betas"
            use alphasCumprod = f.Load "alphas_cumprod"
            expectClose rtol atol scheduler.Betas betas "betas"
            expectClose rtol atol scheduler.AlphasCumprod alphasCumprod "alphas_cumprod"
        }
        test "timesteps, sigmas and init_noise_sigma" {
            TorchRuntime.Initialize()
            use f = SafeTensorsFile.Open(Path.Combine(casesDir, case.File))
            use scheduler = create case None
            scheduler.SetTimesteps case.Steps
            use timesteps = f.Load "timesteps"
            Expect.equal scheduler.Timesteps.dtype timesteps.dtype "timestep dtype"
            Expect.isTrue (scheduler.Timesteps.Equals timesteps) $"timesteps {scheduler.Timesteps.str()} vs {timesteps.str()}"
            // torch.linspace rounds a few betas differently in libtorch 2.10 than in 1.13 (an ulp), which moves σ_max by an ulp.
            Expect.floatClose { absolute = 0.0; relative = 1e-6 } scheduler.InitNoiseSigma case.InitNoiseSigma "init_noise_sigma"
            use sigmas = torch.tensor(Array.init scheduler.StepCount scheduler.Sigma, dtype = torch.float32)
            match scheduler with
            | :? SigmaScheduler as s ->
                use reference = f.Load "sigmas"
                expectClose rtol atol s.Sigmas reference "sigmas (run)"
                expectClose rtol atol sigmas (reference.narrow(0, 0L, int64 scheduler.StepCount)) "Sigma(i)"
            | _ when f.Contains "sigmas" ->
                // DPM-Solver stores the training σ table; Sigma(i) is its entry at the step's timestep.
                use reference = f.Load "sigmas"
                use atSteps = reference.index_select(0, timesteps)
                expectClose rtol atol sigmas atSteps "Sigma(i)"
            | _ ->
                use alphasCumprod = f.Load "alphas_cumprod"
                use ac = alphasCumprod.index_select(0, timesteps)
                use expected = ((1.0 - ac) / ac).sqrt()
                expectClose rtol atol sigmas expected "Sigma(i)"
        }
        test "every step from the reference x_i" { checkTrajectory case true }
        test "the free-running trajectory" { checkTrajectory case false }
    ]

let private sd15 () = Fixtures.path [ "tiny-sd15" ]

[<Tests>]
let tests =
    testList "schedulers" [
        testList "diffusers 0.21.4 trajectories" (cases |> List.map caseTests)

        testList "loading" [
            test "each tiny pipeline's scheduler_config.json builds its class" {
                TorchRuntime.Initialize()
                use pndm = Scheduler.FromPretrained(sd15 ())
                Expect.isTrue (pndm :? PndmScheduler) "tiny-sd15: PNDM"
                use ddim = Scheduler.FromPretrained(Fixtures.path [ "tiny-sd21" ])
                Expect.isTrue (ddim :? DdimScheduler) "tiny-sd21: DDIM"
                Expect.equal ddim.Config.PredictionType PredictionType.VPrediction "tiny-sd21 predicts v"
                use euler = Scheduler.FromPretrained(Fixtures.path [ "tiny-sdxl" ])
                Expect.isTrue (euler :? EulerDiscreteScheduler) "tiny-sdxl: Euler"
            }
            test "a config can be run as another class, named with or without the Scheduler suffix" {
                TorchRuntime.Initialize()
                use lms = Scheduler.FromPretrained(sd15 (), "LMSDiscrete")
                Expect.isTrue (lms :? LmsDiscreteScheduler) "LMSDiscrete from PNDM's config"
                Expect.equal lms.Config.ClassName "LMSDiscreteScheduler" "_class_name follows the class"
                // As diffusers' from_config: keys in the file win over the new class's defaults.
                Expect.equal lms.Config.TimestepSpacing (Nullable TimestepSpacing.Leading) "spacing from the file"
                lms.SetTimesteps 10
                Expect.equal lms.Timesteps.dtype torch.float32 "LMS timesteps are float"
                Expect.sequenceEqual (lms.Timesteps.data<float32>().ToArray()) [| 901.0f .. -100.0f .. 1.0f |] "leading, steps_offset 1"
                use dpm = Scheduler.FromPretrained(sd15 (), "dpmsolvermultistepscheduler")
                Expect.isTrue (dpm :? DpmSolverMultistepScheduler) "case-insensitive full name"
            }
            test "an unknown class name is refused with the supported ones listed" {
                TorchRuntime.Initialize()
                let e = throws<SchedulerConfigException> (fun () -> Scheduler.FromPretrained(sd15 (), "HeunDiscrete") |> ignore) "unknown class"
                Expect.stringContains e.Message "HeunDiscrete" "names the class asked for"
                for name in Scheduler.SupportedClasses do Expect.stringContains e.Message name "lists the supported classes"
                Expect.equal Scheduler.SupportedClasses.Count 6 "six classes"
            }
            test "a malformed value is refused naming the key" {
                TorchRuntime.Initialize()
                let badType = writeConfig """{ "_class_name": "DDIMScheduler", "num_train_timesteps": "many" }"""
                let e = throws<ConfigException> (fun () -> Scheduler.FromPretrained badType |> ignore) "string for an int"
                Expect.stringContains e.Message "num_train_timesteps" "names the key"
                let badEnum = writeConfig """{ "_class_name": "DDIMScheduler", "prediction_type": "noise" }"""
                let e = throws<ConfigException> (fun () -> Scheduler.FromPretrained badEnum |> ignore) "unknown prediction type"
                Expect.stringContains e.Message "prediction_type" "names the key"
            }
            test "an option the class cannot honour is refused naming the key and the file" {
                TorchRuntime.Initialize()
                let prk = writeConfig """{ "_class_name": "PNDMScheduler", "skip_prk_steps": false }"""
                let e = throws<SchedulerConfigException> (fun () -> Scheduler.FromPretrained prk |> ignore) "PRK warm-up"
                Expect.stringContains e.Message "skip_prk_steps" "names the key"
                Expect.stringContains e.Message prk "names the file"
            }
            test "absent keys take the class's defaults" {
                TorchRuntime.Initialize()
                let bare = writeConfig """{ "_class_name": "DDIMScheduler" }"""
                use ddim = Scheduler.FromPretrained bare
                ddim.SetTimesteps 10
                // DDIM defaults: linear betas 1e-4..0.02, leading spacing, steps_offset 0.
                Expect.sequenceEqual (ddim.Timesteps.data<int64>().ToArray()) [| 900L .. -100L .. 0L |] "leading without offset"
                Expect.floatClose Accuracy.high (ddim.Betas[0L].item<float32>() |> float) 1e-4 "beta_start"
                use lms = Scheduler.FromPretrained(bare, "LMSDiscrete")
                lms.SetTimesteps 10
                Expect.sequenceEqual (lms.Timesteps.data<float32>().ToArray()) [| 999.0f .. -111.0f .. 0.0f |] "LMS default: linspace"
            }
            test "squaredcos_cap_v2 betas follow GLIDE's cosine schedule" {
                TorchRuntime.Initialize()
                let file = writeConfig """{ "_class_name": "DDIMScheduler", "beta_schedule": "squaredcos_cap_v2" }"""
                use ddim = Scheduler.FromPretrained file
                let betas = ddim.Betas.data<float32>().ToArray()
                // Values of diffusers' betas_for_alpha_bar(1000) in double precision.
                Expect.floatClose Accuracy.medium (float betas[0]) 4.128422482196914e-05 "beta 0"
                Expect.floatClose Accuracy.medium (float betas[500]) 0.003155691441585007 "beta 500"
                Expect.floatClose Accuracy.medium (float betas[999]) 0.999 "last beta is capped"
            }
        ]

        testList "timestep spacing" [
            test "trailing ends at the last training timestep" {
                TorchRuntime.Initialize()
                use ddim = Scheduler.FromConfig(SchedulerConfig(TimestepSpacing = TimestepSpacing.Trailing), "DDIM")
                ddim.SetTimesteps 10
                Expect.sequenceEqual (ddim.Timesteps.data<int64>().ToArray()) [| 999L .. -100L .. 99L |] "DDIM trailing"
                use euler = Scheduler.FromConfig(SchedulerConfig(TimestepSpacing = TimestepSpacing.Trailing), "EulerDiscrete")
                euler.SetTimesteps 3
                // numpy: arange(1000, 0, -333.33).round() - 1
                Expect.sequenceEqual (euler.Timesteps.data<float32>().ToArray()) [| 999.0f; 666.0f; 332.0f |] "Euler trailing"
            }
            test "linspace rounds half to even for integer schedulers and stays fractional for sigma ones" {
                TorchRuntime.Initialize()
                use ddim = Scheduler.FromConfig(SchedulerConfig(TimestepSpacing = TimestepSpacing.Linspace), "DDIM")
                ddim.SetTimesteps 4
                Expect.sequenceEqual (ddim.Timesteps.data<int64>().ToArray()) [| 999L; 666L; 333L; 0L |] "DDIM linspace"
                use euler = Scheduler.FromConfig(SchedulerConfig(), "EulerDiscrete")
                euler.SetTimesteps 7
                let ts = euler.Timesteps.data<float32>().ToArray()
                Expect.floatClose Accuracy.high (float ts[1]) 832.5 "999·5/6 is not rounded"
            }
        ]

        testList "math" [
            test "Gauss–Legendre with n nodes integrates degree 2n − 1 exactly" {
                let exact = (2.0 ** 6.0 - (-1.0) ** 6.0) / 6.0
                Expect.floatClose Accuracy.veryHigh (GaussLegendre.Integrate((fun x -> x ** 5.0), -1.0, 2.0, 3)) exact "x^5 over [-1, 2]"
                let struct (nodes, weights) = GaussLegendre.Rule 4
                Expect.floatClose Accuracy.veryHigh (Array.sum weights) 2.0 "weights sum to the interval length"
                Expect.floatClose Accuracy.veryHigh nodes[0] 0.8611363115940526 "largest node of P_4"
            }
            test "LMS coefficients are the integrals of the Lagrange basis" {
                let sigmas = [| 14.6f; 7.8f; 4.6f; 2.9f; 0.0f |]
                let a, b = float sigmas[1], float sigmas[2]
                Expect.floatClose Accuracy.veryHigh (LmsDiscreteScheduler.LmsCoefficient(sigmas, 1, 1, 0)) (b - a) "first order: Euler"
                // Order 2 at t = 1, basis of σ_t: (τ − σ_0)/(σ_1 − σ_0), integrated in closed form.
                let s0 = float sigmas[0]
                let expected = ((b - s0) ** 2.0 - (a - s0) ** 2.0) / (2.0 * (a - s0))
                Expect.floatClose Accuracy.veryHigh (LmsDiscreteScheduler.LmsCoefficient(sigmas, 2, 1, 0)) expected "second order, current"
                // Fourth order: cubic basis polynomials, which Simpson's rule integrates exactly.
                let t = 3
                for j in 0 .. 3 do
                    let basis tau =
                        [ 0 .. 3 ] |> List.filter ((<>) j)
                        |> List.fold (fun p k -> p * (tau - float sigmas[t - k]) / (float sigmas[t - j] - float sigmas[t - k])) 1.0
                    let lo, hi = float sigmas[t], float sigmas[t + 1]
                    let simpson = (hi - lo) / 6.0 * (basis lo + 4.0 * basis ((lo + hi) / 2.0) + basis hi)
                    Expect.floatClose Accuracy.veryHigh (LmsDiscreteScheduler.LmsCoefficient(sigmas, 4, t, j)) simpson $"fourth order, {j} back"
            }
            test "scale_model_input is differentiable" {
                TorchRuntime.Initialize()
                for name in [ "LMSDiscrete"; "DDIM" ] do
                    use scheduler = Scheduler.FromPretrained(sd15 (), name)
                    scheduler.SetTimesteps 10
                    use x = torch.randn(1L, 4L, 2L, 2L).requires_grad_(true)
                    use y = scheduler.ScaleModelInput(x, 3)
                    use loss = y.sum()
                    loss.backward()
                    let sigma = scheduler.Sigma 3
                    let expected = if name = "DDIM" then 1.0 else 1.0 / sqrt (sigma * sigma + 1.0)
                    Expect.floatClose Accuracy.high (x.grad.mean().item<float32>() |> float) expected $"{name}: d scaled / d x"
            }
        ]

        testList "runs" [
            test "a scheduler built and started inside a dispose scope outlives it" {
                TorchRuntime.Initialize()
                let build () =
                    use scope = torch.NewDisposeScope()
                    let scheduler = Scheduler.FromPretrained(sd15 (), "LMSDiscrete")
                    scheduler.SetTimesteps 10
                    scheduler
                use scheduler = build ()
                use x = torch.randn(1L, 4L, 2L, 2L)
                use out = scheduler.Step(x, 0, x)
                Expect.equal scheduler.Timesteps.shape [| 10L |] "timesteps alive"
                Expect.equal ((scheduler :?> SigmaScheduler).Sigmas.shape) [| 11L |] "sigmas alive"
                Expect.isGreaterThan (scheduler.AlphasCumprod.sum().item<float32>()) 0.0f "tables alive"
            }
            test "multistep schedulers refuse steps out of order" {
                TorchRuntime.Initialize()
                for name in [ "LMSDiscrete"; "PNDM"; "DPMSolverMultistep" ] do
                    use scheduler = Scheduler.FromPretrained(sd15 (), name)
                    scheduler.SetTimesteps 10
                    use x = torch.randn(1L, 4L, 2L, 2L)
                    Expect.throwsT<InvalidOperationException> (fun () -> scheduler.Step(x, 1, x) |> ignore) $"{name}: step 1 first"
            }
            test "a long run holds a bounded number of tensors, and SetTimesteps starts afresh" {
                TorchRuntime.Initialize()
                for name in Scheduler.SupportedClasses do
                    use generator = new torch.Generator(0UL)
                    use scheduler = Scheduler.FromPretrained(sd15 (), name, generator)
                    use x0 = torch.randn(1L, 4L, 8L, 8L)
                    use eps = torch.randn(1L, 4L, 8L, 8L)
                    let run () =
                        generator.manual_seed 0L |> ignore
                        scheduler.SetTimesteps 50
                        let live = Collections.Generic.List<int64>()
                        let mutable x = x0.clone()
                        for i in 0 .. scheduler.StepCount - 1 do
                            use scaled = scheduler.ScaleModelInput(x, i)
                            use out = scheduler.Step(eps, i, x)
                            x.Dispose()
                            x <- out.PrevSample.clone()
                            live.Add DisposeScopeManager.Statistics.ThreadTotalLiveCount
                        let final = x.clone()
                        x.Dispose()
                        final, live
                    let first, live = run ()
                    Expect.equal live[live.Count - 1] live[5] $"{name}: live tensors after step 5 and after the last"
                    use first = first
                    use second = fst (run ())
                    Expect.isTrue (first.Equals second) $"{name}: a second run repeats the first"
            }
            test "Euler ancestral draws one randn of the sample's shape per step from the generator" {
                TorchRuntime.Initialize()
                let config = DiffusersConfig.Read<SchedulerConfig>(Fixtures.path [ "tiny-sdxl"; "scheduler"; "scheduler_config.json" ])
                let run (noise: StepNoise) =
                    use scheduler = new EulerAncestralDiscreteScheduler(config, noise)
                    scheduler.SetTimesteps 5
                    let mutable x = torch.ones(1L, 4L, 2L, 2L)
                    for i in 0 .. scheduler.StepCount - 1 do
                        use eps = torch.ones(1L, 4L, 2L, 2L) * 0.1
                        use out = scheduler.Step(eps, i, x)
                        x.Dispose()
                        x <- out.PrevSample.clone()
                    x
                use g1 = new torch.Generator(7UL)
                use fromGenerator = run (EulerAncestralDiscreteScheduler.GeneratorNoise g1)
                use g2 = new torch.Generator(7UL)
                use explicitDraws = run (StepNoise(fun _ like -> torch.randn(like.shape, generator = g2)))
                Expect.isTrue (fromGenerator.Equals explicitDraws) "same draws as torch.randn(shape, generator)"
                use g3 = new torch.Generator(8UL)
                use otherSeed = run (EulerAncestralDiscreteScheduler.GeneratorNoise g3)
                Expect.isFalse (fromGenerator.Equals otherSeed) "the seed matters"
            }
        ]
    ]
