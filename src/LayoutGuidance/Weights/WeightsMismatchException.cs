using System.Text;

namespace LayoutGuidance.Weights;

/// <summary>A checkpoint tensor whose shape differs from the module's tensor of the same name.</summary>
public sealed record ShapeMismatch(string Key, long[] CheckpointShape, long[] ModuleShape)
{
    public override string ToString() =>
        $"{Key}: checkpoint [{string.Join(", ", CheckpointShape)}], module [{string.Join(", ", ModuleShape)}]";
}

/// <summary>
/// A checkpoint that does not fit a module, with every difference listed: module keys the checkpoint
/// lacks, checkpoint keys the module lacks, shape mismatches, and module tensors still on the meta
/// device after loading (nothing in the checkpoint could give them data).
/// </summary>
public sealed class WeightsMismatchException(
    string checkpointPath, string moduleType,
    IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
    IReadOnlyList<ShapeMismatch> shapeMismatches, IReadOnlyList<string> notMaterialised)
    : Exception(Describe(checkpointPath, moduleType, missing, unexpected, shapeMismatches, notMaterialised))
{
    public string CheckpointPath { get; } = checkpointPath;
    public IReadOnlyList<string> Missing { get; } = missing;
    public IReadOnlyList<string> Unexpected { get; } = unexpected;
    public IReadOnlyList<ShapeMismatch> ShapeMismatches { get; } = shapeMismatches;
    public IReadOnlyList<string> NotMaterialised { get; } = notMaterialised;

    static string Describe(string path, string moduleType, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
                           IReadOnlyList<ShapeMismatch> shapes, IReadOnlyList<string> notMaterialised)
    {
        var s = new StringBuilder($"{path}: weights do not fit {moduleType}");
        void Section<T>(string title, IReadOnlyList<T> items)
        {
            if (items.Count == 0) return;
            s.Append($"\n  {title} ({items.Count}):");
            foreach (var item in items) s.Append($"\n    {item}");
        }
        Section("missing from the checkpoint", missing);
        Section("unexpected in the checkpoint", unexpected);
        Section("shape mismatches", shapes);
        Section("still on the meta device after loading (create these tensors on a real device, or compute them in forward)", notMaterialised);
        return s.ToString();
    }
}
