using System.Collections.Concurrent;

namespace LayoutGuidance.Weights;

/// <summary>A model that is not where it was looked for: the path looked at and, for a published model, how to download it.</summary>
public sealed class ModelNotFoundException(string model, string path, string reason, string? downloadCommand)
    : Exception($"model '{model}': {reason}" + (downloadCommand is null ? "" : $". Download it with:\n  {downloadCommand}"))
{
    public string Model { get; } = model;
    /// <summary>The folder that was looked at.</summary>
    public string Path { get; } = path;
    /// <summary>The command that fetches the model into <see cref="Path"/>; null for local models.</summary>
    public string? DownloadCommand { get; } = downloadCommand;
}

/// <summary>
/// Finds a diffusers pipeline folder from what a user types: a folder path, or a short name resolved
/// under the models root (an explicit root, else <c>$LAYOUTGUIDANCE_MODELS</c>, else <c>~/models</c>)
/// in a folder named like the short name. Short names win over same-named relative paths; write
/// <c>./sd15</c> for the folder.
/// </summary>
public static class ModelLocation
{
    public const string ModelsRootVariable = "LAYOUTGUIDANCE_MODELS";

    /// <summary>The published models by short name, with the Hugging Face repository to download.</summary>
    public static IReadOnlyDictionary<string, string> HubRepositories { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["sd15"] = "stable-diffusion-v1-5/stable-diffusion-v1-5",
        ["sd21"] = "stabilityai/stable-diffusion-2-1",
        ["sd21-base"] = "stabilityai/stable-diffusion-2-1-base",
        ["sdxl"] = "stabilityai/stable-diffusion-xl-base-1.0",
    };

    static readonly ConcurrentDictionary<string, string> Registered = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Every short name <see cref="Resolve"/> accepts: the published models and the registered ones.</summary>
    public static IReadOnlyList<string> Names =>
        HubRepositories.Keys.Concat(Registered.Keys).Order(StringComparer.OrdinalIgnoreCase).ToList();

    /// <summary>Makes <paramref name="name"/> resolve to <paramref name="folder"/> (models that live outside the models root, e.g. in this repository).</summary>
    public static void Register(string name, string folder)
    {
        if (HubRepositories.ContainsKey(name)) throw new ArgumentException($"'{name}' already names a published model", nameof(name));
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny(['/', '\\']) >= 0) throw new ArgumentException($"'{name}' is not a short name", nameof(name));
        Registered[name] = System.IO.Path.GetFullPath(folder);
    }

    /// <summary>The models root: <paramref name="modelsRoot"/> when given, else <c>$LAYOUTGUIDANCE_MODELS</c>, else <c>~/models</c>.</summary>
    public static string ModelsRoot(string? modelsRoot = null)
    {
        if (!string.IsNullOrEmpty(modelsRoot)) return System.IO.Path.GetFullPath(modelsRoot);
        var env = Environment.GetEnvironmentVariable(ModelsRootVariable);
        if (!string.IsNullOrEmpty(env)) return System.IO.Path.GetFullPath(env);
        return System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), "models");
    }

    /// <summary>The pipeline folder (holding model_index.json) for a short name or a folder path.</summary>
    public static string Resolve(string nameOrFolder, string? modelsRoot = null)
    {
        if (HubRepositories.TryGetValue(nameOrFolder, out var repo))
        {
            var folder = System.IO.Path.Combine(ModelsRoot(modelsRoot), nameOrFolder.ToLowerInvariant());
            return Checked(nameOrFolder, folder, DownloadCommand(repo, folder));
        }
        if (Registered.TryGetValue(nameOrFolder, out var registered))
            return Checked(nameOrFolder, registered, null);
        var path = System.IO.Path.GetFullPath(nameOrFolder);
        if (!Directory.Exists(path))
            throw new ModelNotFoundException(nameOrFolder, path,
                $"not a known model name ({string.Join(", ", Names)}) and no folder {path}", null);
        return Checked(nameOrFolder, path, null);
    }

    /// <summary>The Hugging Face CLI command that downloads <paramref name="repository"/> into <paramref name="folder"/>.</summary>
    public static string DownloadCommand(string repository, string folder) =>
        $"huggingface-cli download {repository} --local-dir {ShellQuote(folder)}";

    static string Checked(string model, string folder, string? download)
    {
        if (!Directory.Exists(folder))
            throw new ModelNotFoundException(model, folder, $"folder {folder} does not exist", download);
        if (!File.Exists(System.IO.Path.Combine(folder, ModelIndex.FileName)))
            throw new ModelNotFoundException(model, folder, $"folder {folder} has no {ModelIndex.FileName}, so it is not a complete diffusers pipeline", download);
        return folder;
    }

    static string ShellQuote(string s) =>
        s.All(c => char.IsLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or '~' or '+' or ':' or '@' or '%' or ',')
            ? s
            : "'" + s.Replace("'", "'\\''") + "'";
}
