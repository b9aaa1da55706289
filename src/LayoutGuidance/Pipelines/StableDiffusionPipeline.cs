using System.Diagnostics;
using LayoutGuidance.Guidance;
using LayoutGuidance.Models;
using LayoutGuidance.Models.Attention;
using LayoutGuidance.Models.Clip;
using LayoutGuidance.Models.UNet;
using LayoutGuidance.Models.Vae;
using LayoutGuidance.Native;
using LayoutGuidance.Schedulers;
using LayoutGuidance.Text;
using LayoutGuidance.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace LayoutGuidance.Pipelines;

/// <summary>
/// Text-to-image for SD1.x / SD2.x and SDXL folders in the diffusers layout, with classifier-free
/// guidance and, optionally, forward or backward layout guidance. Loads once; generates many times.
/// </summary>
public sealed class StableDiffusionPipeline : IDisposable
{
    StableDiffusionPipeline(string folder, ModelIndex index, ModelFamily family, PipelineOptions options, Device device,
                            UNet2DConditionModel unet, AutoencoderKL vae, PromptEncoder encoder, ClipTokenizer tokenizer,
                            ClipTokenizer? tokenizer2, SchedulerConfig schedulerConfig, GuidanceDefaults? defaults)
    {
        Folder = folder;
        Index = index;
        Family = family;
        Options = options;
        Device = device;
        UNet = unet;
        Vae = vae;
        PromptEncoder = encoder;
        Tokenizer = tokenizer;
        Tokenizer2 = tokenizer2;
        SchedulerConfig = schedulerConfig;
        GuidanceDefaults = defaults;
    }

    public string Folder { get; }
    public ModelIndex Index { get; }
    public ModelFamily Family { get; }
    public PipelineOptions Options { get; }
    public Device Device { get; }
    public UNet2DConditionModel UNet { get; }
    public AutoencoderKL Vae { get; }
    public PromptEncoder PromptEncoder { get; }
    public ClipTokenizer Tokenizer { get; }
    public ClipTokenizer? Tokenizer2 { get; }
    public SchedulerConfig SchedulerConfig { get; }
    /// <summary>The folder's layout_guidance.json, if any.</summary>
    public GuidanceDefaults? GuidanceDefaults { get; }

    /// <summary>2^(VAE levels − 1): 8 for every SD family.</summary>
    public int VaeScaleFactor => 1 << (Vae.Config.BlockOutChannels.Length - 1);

    /// <summary>The family name guidance defaults are keyed by.</summary>
    public string FamilyName => Family == ModelFamily.StableDiffusionXL ? "sdxl" : "sd";

    /// <summary>Backward-guidance options this model starts from: the paper's, or its folder's own defaults.</summary>
    public BackwardGuidanceOptions DefaultBackwardGuidance =>
        GuidanceDefaults?.Backward(FamilyName) ?? new BackwardGuidanceOptions { Layers = LayerSelection.ForFamily(FamilyName) };

    /// <summary>Loads a model folder, or a short name (sd15, sd21, sd21-base, sdxl, or a registered one) under the models root.</summary>
    public static StableDiffusionPipeline Load(string model, PipelineOptions? options = null)
    {
        options ??= new PipelineOptions();
        TorchRuntime.Initialize();
        var folder = ModelLocation.Resolve(model, options.ModelsRoot);
        var index = ModelIndex.Read(folder);
        var family = index.ClassName switch
        {
            "StableDiffusionPipeline" => ModelFamily.StableDiffusion,
            "StableDiffusionXLPipeline" => ModelFamily.StableDiffusionXL,
            var other => throw new ConfigException(Path.Combine(folder, ModelIndex.FileName),
                $"_class_name \"{other}\" is not supported (supported: StableDiffusionPipeline, StableDiffusionXLPipeline)"),
        };
        var device = TorchRuntime.Device(options.Device);
        string ConfigOf(string component) => Path.Combine(index.Component(component).Folder, "config.json");

        T LoadModule<T>(string component, Func<T> build, ScalarType dtype, Func<string, string>? rename = null) where T : nn.Module
        {
            T module;
            using (MetaDevice.Scope()) module = build();
            using var checkpoint = index.OpenCheckpoint(component, options.Variant);
            ModuleWeights.Load(module, checkpoint, dtype, device, rename);
            module.eval();
            return module;
        }

        var unetConfig = UNet2DConditionConfig.Read(ConfigOf("unet"));
        var unet = LoadModule("unet", () => new UNet2DConditionModel(unetConfig), options.DType);
        var vaeConfig = AutoencoderKLConfig.Read(ConfigOf("vae"));
        var vae = LoadModule("vae", () => new AutoencoderKL(vaeConfig), vaeConfig.ForceUpcast ? ScalarType.Float32 : options.DType,
                             DeprecatedAttentionNames.ToCurrent);
        var textConfig = CLIPTextConfig.Read(ConfigOf("text_encoder"));
        var textEncoder = LoadModule("text_encoder", () => new CLIPTextModel(textConfig), options.DType);
        var tokenizer = ClipTokenizer.FromPretrained(index.Component("tokenizer").Folder, options.TextNormalization);
        PromptEncoder encoder;
        ClipTokenizer? tokenizer2 = null;
        if (family == ModelFamily.StableDiffusionXL)
        {
            var text2Config = CLIPTextConfig.Read(ConfigOf("text_encoder_2"));
            var textEncoder2 = LoadModule("text_encoder_2", () => new CLIPTextModelWithProjection(text2Config), options.DType);
            tokenizer2 = ClipTokenizer.FromPretrained(index.Component("tokenizer_2").Folder, options.TextNormalization);
            var forceZeros = index.Settings.TryGetValue("force_zeros_for_empty_prompt", out var fz) && fz.ValueKind == System.Text.Json.JsonValueKind.True;
            encoder = new StableDiffusionXLPromptEncoder(textEncoder, textEncoder2, forceZeros);
        }
        else
        {
            encoder = new StableDiffusionPromptEncoder(textEncoder);
        }
        var schedulerConfig = DiffusersConfig.Read<SchedulerConfig>(Path.Combine(index.Component("scheduler").Folder, "scheduler_config.json"));
        return new StableDiffusionPipeline(folder, index, family, options, device, unet, vae, encoder, tokenizer, tokenizer2,
                                           schedulerConfig, GuidanceDefaults.Read(folder));
    }

    /// <summary>Generates one image. <paramref name="onStep"/> runs after every denoising step.</summary>
    public GenerationResult Generate(GenerationRequest request, Action<StepProgress>? onStep = null)
    {
        var wall = Stopwatch.StartNew();
        var steps = request.Steps ?? GuidanceDefaults?.NumInferenceSteps ?? 50;
        var cfg = request.GuidanceScale ?? GuidanceDefaults?.GuidanceScale ?? 7.5;
        var height = request.Height ?? UNet.Config.SampleSize * VaeScaleFactor;
        var width = request.Width ?? UNet.Config.SampleSize * VaeScaleFactor;
        if (height % VaeScaleFactor != 0 || width % VaeScaleFactor != 0 || height <= 0 || width <= 0)
            throw new ArgumentException($"height and width must be positive multiples of {VaeScaleFactor} (got {height}×{width})");
        var (latentH, latentW) = (height / VaeScaleFactor, width / VaeScaleFactor);

        var encoding = Tokenizer.Encode(request.Prompt);
        var layout = request.Layout;
        var objects = layout?.Resolve(encoding) ?? [];
        var mode = layout?.Mode ?? GuidanceMode.None;
        var backwardOptions = layout?.Backward ?? DefaultBackwardGuidance;
        var forwardOptions = layout?.Forward;
        if (mode == GuidanceMode.Forward && forwardOptions is null)
            throw new GuidanceOptionsException("Forward", "(null)", "forward guidance needs ForwardGuidanceOptions with a Strength λ");
        var layerPaths = UNet.CrossAttentionLayers.Select(l => l.Path).ToList();
        var selection = (mode == GuidanceMode.Forward ? forwardOptions!.Layers : null) ?? backwardOptions.Layers ?? LayerSelection.ForFamily(FamilyName);
        var guidedPaths = objects.Count > 0 ? selection.Resolve(layerPaths) : [];
        var heads = UNet.CrossAttentionLayers.ToDictionary(l => l.Path, l => (int)l.Heads);

        var dtype = Options.DType;
        using var generator = new Generator((ulong)request.Seed);
        using var scheduler = Scheduler.FromConfig(request.SchedulerConfig ?? SchedulerConfig, request.Scheduler, generator);
        scheduler.SetTimesteps(steps);

        using var prompt = EncodePrompt(request, encoding);
        using var condEmbeds = prompt.Prompt.PromptEmbeds.to(dtype, Device);
        using var cfgEmbeds = cat([prompt.Negative.PromptEmbeds, prompt.Prompt.PromptEmbeds], 0).to(dtype, Device);
        var (condAdded, cfgAdded) = AddedConditions(request, prompt, height, width);

        var warnings = new List<string>();
        if (objects.Count > 0)
            warnings.AddRange(LayoutEnergy.Uncovered(objects, guidedPaths.Select(p =>
            {
                var (h, w) = UNet.CrossAttentionLayers.First(l => l.Path == p).MapSize(latentH, latentW);
                return new MapGrid((int)h, (int)w);
            }).Distinct()).Select(u => u.ToString()));
        var backward = mode == GuidanceMode.Backward ? new BackwardGuidance(backwardOptions, guidedPaths, objects) : null;
        var heatmapGrid = guidedPaths.Count == 0 ? default : guidedPaths
            .Select(p => UNet.CrossAttentionLayers.First(l => l.Path == p).MapSize(latentH, latentW))
            .Select(s => new MapGrid((int)s.Height, (int)s.Width)).MaxBy(g => g.Cells);
        var heatmaps = objects.Select(_ => (Tensor?)null).ToArray();
        var stepRecords = new List<GuidanceStep>();

        var latents = InitialNoise(generator, latentH, latentW, scheduler.InitNoiseSigma);
        try
        {
            for (var i = 0; i < scheduler.StepCount; i++)
            {
                using var scope = NewDisposeScope();
                var t = scheduler.Timesteps[i];
                var sigma = scheduler.Sigma(i);
                var iterationsBefore = backward?.Iterations.Count ?? 0;
                if (backward is not null)
                {
                    var guided = backward.Step(i, latents, scheduler.SampleNoiseStd(i), x => scheduler.ScaleModelInput(x, i),
                        (scaled, capture) => UNet.forward(scaled.to(dtype), t, condEmbeds, condAdded, capture)?.Dispose());
                    latents.Dispose();
                    latents = guided;
                }

                Tensor next;
                using (no_grad())
                {
                    var forwardActive = mode == GuidanceMode.Forward && forwardOptions!.Window.Contains(i);
                    using var capture = guidedPaths.Count == 0 ? null : new AttentionCapture(guidedPaths, edit: forwardActive
                        ? (path, probs) => ForwardGuidance.Edit(probs, objects, latentH, latentW, forwardOptions!.Strength,
                                                                 forwardOptions.SmoothingSigma, heads[path]..)
                        : null);
                    var scaled = scheduler.ScaleModelInput(cat([latents, latents], 0), i).to(dtype);
                    var noise = UNet.forward(scaled, t, cfgEmbeds, cfgAdded, capture)!.to(ScalarType.Float32).chunk(2, 0);
                    var guidedNoise = noise[0] + cfg * (noise[1] - noise[0]);
                    using var output = scheduler.Step(guidedNoise, i, latents);
                    next = output.PrevSample.alias().DetachFromDisposeScope();
                    if (capture is not null) Accumulate(heatmaps, capture, guidedPaths, heads, objects, latentH, latentW, heatmapGrid);
                }
                if (!next.isfinite().all().item<bool>())
                    throw new NonFiniteLatentsException(i, dtype.ToString());
                latents.Dispose();
                latents = next;
                stepRecords.Add(new GuidanceStep(i, t.ToDouble(), sigma, (backward?.Iterations.Count ?? 0) - iterationsBefore));
                onStep?.Invoke(new StepProgress(i, scheduler.StepCount, t.ToDouble(), latents));
            }

            Tensor image;
            using (no_grad())
            using (var scope = NewDisposeScope())
            {
                var decoded = Vae.Decode(latents / Vae.ScalingFactor);
                image = (decoded.to(ScalarType.Float32) / 2 + 0.5).clamp(0.0, 1.0).cpu().MoveToOuterDisposeScope();
            }
            var record = new GuidanceRecord
            {
                Mode = mode,
                Steps = stepRecords,
                Iterations = backward?.Iterations.ToList() ?? [],
                Phrases = Summaries(heatmaps, objects, heatmapGrid, scheduler.StepCount),
                Warnings = warnings,
                GuidedLayers = guidedPaths,
                Wall = wall.Elapsed,
            };
            var final = latents.cpu();
            if (!ReferenceEquals(final, latents)) latents.Dispose();
            return new GenerationResult(final, image, record, objects);
        }
        catch
        {
            latents.Dispose();
            throw;
        }
        finally
        {
            foreach (var h in heatmaps) h?.Dispose();
            condAdded?.TextEmbeds.Dispose();
            condAdded?.TimeIds.Dispose();
            cfgAdded?.TextEmbeds.Dispose();
            cfgAdded?.TimeIds.Dispose();
        }
    }

    EncodedPrompt EncodePrompt(GenerationRequest request, ClipEncoding encoding)
    {
        using var scope = NewDisposeScope();
        Tensor Ids(ClipEncoding e) => tensor(e.InputIds.Select(x => (long)x).ToArray(), dtype: ScalarType.Int64).reshape(1, -1).to(Device);
        PromptTokenIds TokenIds(string text, ClipEncoding? first = null) => new(Ids(first ?? Tokenizer.Encode(text)),
            Tokenizer2 is null ? null : Ids(Tokenizer2.Encode(text)));
        var promptIds = TokenIds(request.Prompt, encoding);
        var negativeIds = request.NegativePrompt is { } negative ? TokenIds(negative)
            : PromptEncoder.ZerosForMissingNegativePrompt ? null : TokenIds("");
        var encoded = PromptEncoder.EncodePrompt(promptIds, negativeIds);
        foreach (var t in new[] { encoded.Prompt.PromptEmbeds, encoded.Prompt.PooledPromptEmbeds, encoded.Negative.PromptEmbeds, encoded.Negative.PooledPromptEmbeds })
            t?.DetachFromDisposeScope();
        return encoded;
    }

    (AddedConditions? Cond, AddedConditions? Cfg) AddedConditions(GenerationRequest request, EncodedPrompt prompt, int height, int width)
    {
        if (Family != ModelFamily.StableDiffusionXL) return (null, null);
        using var scope = NewDisposeScope();
        var size = (height, width);
        var timeIds = StableDiffusionXLPromptEncoder.AddTimeIds(request.OriginalSize ?? size, request.CropsCoordsTopLeft, request.TargetSize ?? size,
                                                                Options.DType, Device);
        var pooled = prompt.Prompt.PooledPromptEmbeds!.to(Options.DType, Device);
        var negativePooled = prompt.Negative.PooledPromptEmbeds!.to(Options.DType, Device);
        var cond = new AddedConditions(pooled.DetachFromDisposeScope(), timeIds.alias().DetachFromDisposeScope());
        var cfg = new AddedConditions(cat([negativePooled, pooled], 0).DetachFromDisposeScope(), cat([timeIds, timeIds], 0).DetachFromDisposeScope());
        return (cond, cfg);
    }

    Tensor InitialNoise(Generator generator, int latentH, int latentW, double initNoiseSigma)
    {
        // Drawn on the CPU generator like diffusers' randn_tensor, then moved: a seed gives the same noise on any device.
        using var noise = randn([1, UNet.Config.InChannels, latentH, latentW], generator: generator, dtype: ScalarType.Float32);
        using var scaled = noise * initNoiseSigma;
        return scaled.to(Device);
    }

    static void Accumulate(Tensor?[] heatmaps, AttentionCapture capture, IReadOnlyList<string> paths, Dictionary<string, int> heads,
                           IReadOnlyList<LayoutObject> objects, int latentH, int latentW, MapGrid grid)
    {
        // The conditional half of the classifier-free batch: rows heads..2·heads of every map.
        var maps = paths.Select(p => capture.Maps[p].narrow(0, heads[p], heads[p])).ToList();
        for (var k = 0; k < objects.Count; k++)
        {
            var map = PhraseAttention.Heatmap(maps, objects[k], latentH, latentW, grid);
            if (heatmaps[k] is null) heatmaps[k] = map.DetachFromDisposeScope();
            else heatmaps[k]!.add_(map);
        }
    }

    static IReadOnlyList<PhraseAttentionSummary> Summaries(Tensor?[] heatmaps, IReadOnlyList<LayoutObject> objects, MapGrid grid, int steps) =>
        objects.Select((o, k) =>
        {
            using var mean = heatmaps[k]! / steps;
            var values = mean.to(ScalarType.Float32).cpu().data<float>().ToArray();
            return new PhraseAttentionSummary(o.Phrase, o.Boxes, values, grid.Height, grid.Width, PhraseAttention.InBoxRatio(mean, o.Boxes));
        }).ToList();

    public void Dispose()
    {
        UNet.Dispose();
        Vae.Dispose();
        switch (PromptEncoder)
        {
            case StableDiffusionPromptEncoder sd: sd.TextEncoder.Dispose(); break;
            case StableDiffusionXLPromptEncoder xl: xl.TextEncoder.Dispose(); xl.TextEncoder2.Dispose(); break;
        }
    }
}
