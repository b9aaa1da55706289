namespace LayoutGuidance.Weights;

/// <summary>A component folder whose weights cannot be used: the folder, the files looked for, and the fix.</summary>
public sealed class CheckpointException(string folder, string reason, IReadOnlyList<string>? lookedFor = null)
    : Exception($"{folder}: {reason}")
{
    public string Folder { get; } = folder;
    public string Reason { get; } = reason;
    /// <summary>File names tried, in order (empty when the problem is inside a file that was found).</summary>
    public IReadOnlyList<string> LookedFor { get; } = lookedFor ?? [];
}
