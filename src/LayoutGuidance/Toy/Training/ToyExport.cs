using System.Security.Cryptography;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using LayoutGuidance.Models.Clip;
using LayoutGuidance.Models.UNet;
using LayoutGuidance.Models.Vae;
using LayoutGuidance.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace LayoutGuidance.Toy.Training;

/// <summary>
/// Writes the trained toy model as a diffusers StableDiffusionPipeline folder: fp16 safetensors (EMA
/// weights for UNet and text encoder), configs, the caption tokenizer, a DDIM scheduler config, the
/// model's layout-guidance defaults and SHA256SUMS over every other file.
/// </summary>
static class ToyExport
{
    const string DiffusersVersion = "0.21.4";
    public const string ChecksumFile = "SHA256SUMS";

    public static void Export(ToyTrainingOptions options, Action<string> echo)
    {
        var root = options.ExportFolder;
        if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        Directory.CreateDirectory(root);

        using var vae = ToyComponents.LoadVae(options.CheckpointFolder);
        var (unet, text) = ToyComponents.LoadDenoiser(options.CheckpointFolder);
        using var _u = unet;
        using var _t = text;

        WriteModule(root, "vae", "diffusion_pytorch_model.safetensors", vae,
            Config(vae.Config, ("_class_name", "AutoencoderKL"), ("_diffusers_version", DiffusersVersion)));
        WriteModule(root, "unet", "diffusion_pytorch_model.safetensors", unet,
            Config(unet.Config, ("_class_name", "UNet2DConditionModel"), ("_diffusers_version", DiffusersVersion)));
        WriteModule(root, "text_encoder", "model.safetensors", text,
            Config(text.Config, ("architectures", new JsonArray("CLIPTextModel")), ("model_type", "clip_text_model"), ("torch_dtype", "float16")));

        var tokenizer = Directory.CreateDirectory(Path.Combine(root, "tokenizer")).FullName;
        foreach (var file in Directory.GetFiles(options.TokenizerFolder))
            File.Copy(file, Path.Combine(tokenizer, Path.GetFileName(file)));

        var s = ToyArchitecture.Scheduler;
        var scheduler = new JsonObject
        {
            ["_class_name"] = s.ClassName, ["_diffusers_version"] = DiffusersVersion,
            ["beta_end"] = s.BetaEnd, ["beta_schedule"] = "scaled_linear", ["beta_start"] = s.BetaStart,
            ["clip_sample"] = false, ["num_train_timesteps"] = s.NumTrainTimesteps, ["prediction_type"] = "epsilon",
            ["set_alpha_to_one"] = false, ["steps_offset"] = s.StepsOffset, ["timestep_spacing"] = "leading", ["trained_betas"] = null,
        };
        WriteJson(Path.Combine(Directory.CreateDirectory(Path.Combine(root, "scheduler")).FullName, "scheduler_config.json"), scheduler);

        WriteJson(Path.Combine(root, ModelIndex.FileName), new JsonObject
        {
            ["_class_name"] = "StableDiffusionPipeline", ["_diffusers_version"] = DiffusersVersion,
            ["feature_extractor"] = new JsonArray(null, null), ["requires_safety_checker"] = false,
            ["safety_checker"] = new JsonArray(null, null),
            ["scheduler"] = new JsonArray("diffusers", s.ClassName), ["text_encoder"] = new JsonArray("transformers", "CLIPTextModel"),
            ["tokenizer"] = new JsonArray("transformers", "CLIPTokenizer"), ["unet"] = new JsonArray("diffusers", "UNet2DConditionModel"),
            ["vae"] = new JsonArray("diffusers", "AutoencoderKL"),
        });
        WriteJson(Path.Combine(root, ToyGuidanceDefaults.FileName), JsonSerializer.SerializeToNode(options.GuidanceDefaults, DiffusersConfig.Options)!);
        WriteChecksums(root);
        var bytes = Directory.GetFiles(root, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
        echo($"exported {root}: {bytes / 1e6:F2} MB");
    }

    // Computed properties of the config records (expanded per-block lists) are not config keys.
    static readonly JsonSerializerOptions ConfigKeys = new(DiffusersConfig.Options) { IgnoreReadOnlyProperties = true };

    static JsonObject Config<T>(T config, params (string Key, JsonNode? Value)[] extra)
    {
        var node = JsonSerializer.SerializeToNode(config, ConfigKeys)!.AsObject();
        var ordered = new JsonObject();
        foreach (var (key, value) in extra) ordered[key] = value;
        foreach (var (key, value) in node.OrderBy(kv => kv.Key, StringComparer.Ordinal)) ordered[key] = value?.DeepClone();
        return ordered;
    }

    static void WriteModule(string root, string component, string fileName, nn.Module module, JsonObject config)
    {
        var folder = Directory.CreateDirectory(Path.Combine(root, component)).FullName;
        using var scope = NewDisposeScope();
        var half = module.state_dict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key,
            is_floating_point(kv.Value) ? kv.Value.to(ScalarType.Float16) : kv.Value));
        SafeTensorsWriter.Save(Path.Combine(folder, fileName), half, new Dictionary<string, string> { ["format"] = "pt" });
        WriteJson(Path.Combine(folder, "config.json"), config);
    }

    // Relaxed escaping writes "+" and other ASCII as themselves, as Python's json does.
    static readonly JsonSerializerOptions Output = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static void WriteJson(string path, JsonNode node) => File.WriteAllText(path, node.ToJsonString(Output) + "\n");

    /// <summary>"sha256  relative/path" per file, sorted, as sha256sum writes them.</summary>
    static void WriteChecksums(string root)
    {
        var lines = Directory.GetFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(f => f != ChecksumFile)
            .Order(StringComparer.Ordinal)
            .Select(f => $"{Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(root, f))))}  {f}");
        File.WriteAllText(Path.Combine(root, ChecksumFile), string.Join("\n", lines) + "\n");
    }
}
