using System.Text.Json;
using LayoutGuidance.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace LayoutGuidance.Toy.Training;

/// <summary>
/// A stage's resumable state in its checkpoint folder: module weights as fp32 safetensors, the AdamW
/// state (TorchSharp's own format) and the step reached. Files are written beside and then moved over
/// the old ones, so a run killed while saving leaves the previous checkpoint intact.
/// </summary>
static class TrainingState
{
    public sealed record Progress(int Step, double ScalingFactor = 1.0);

    const string ProgressFile = "progress.json";

    public static void SaveModule(string folder, string name, nn.Module module) =>
        Replace(Path.Combine(folder, name + ".safetensors"), tmp => SafeTensorsWriter.Save(tmp, module.state_dict()));

    public static void SaveModule(string folder, string name, IEnumerable<KeyValuePair<string, Tensor>> tensors) =>
        Replace(Path.Combine(folder, name + ".safetensors"), tmp => SafeTensorsWriter.Save(tmp, tensors));

    public static void LoadModule(string folder, string name, nn.Module module)
    {
        using var checkpoint = Checkpoint.OpenFile(Path.Combine(folder, name + ".safetensors"));
        ModuleWeights.Load(module, checkpoint);
    }

    public static bool HasModule(string folder, string name) => File.Exists(Path.Combine(folder, name + ".safetensors"));

    public static void SaveOptimizer(string folder, optim.Optimizer optimizer) =>
        Replace(Path.Combine(folder, "optimizer.bin"), tmp => ((TorchSharp.Modules.OptimizerHelper)optimizer).save_state_dict(tmp));

    public static void LoadOptimizer(string folder, optim.Optimizer optimizer) =>
        ((TorchSharp.Modules.OptimizerHelper)optimizer).load_state_dict(Path.Combine(folder, "optimizer.bin"));

    public static void SaveProgress(string folder, Progress progress) =>
        Replace(Path.Combine(folder, ProgressFile), tmp => File.WriteAllText(tmp, JsonSerializer.Serialize(progress, DiffusersConfig.Options)));

    public static Progress? LoadProgress(string folder)
    {
        var path = Path.Combine(folder, ProgressFile);
        return File.Exists(path) ? DiffusersConfig.Read<Progress>(path) : null;
    }

    static void Replace(string path, Action<string> write)
    {
        var tmp = path + ".tmp";
        write(tmp);
        File.Move(tmp, path, overwrite: true);
    }
}
