using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

/// <summary>
/// The last few tensors a multistep method remembers (LMS derivatives, PLMS ε's, DPM-Solver x_0's).
/// Owns them: it keeps a handle detached from autograd and from the dispose scope, so no graph reaches
/// across steps, and disposes the one that falls off the end: a long run holds at most <c>capacity</c> tensors.
/// </summary>
sealed class TensorHistory(int capacity) : IDisposable
{
    readonly List<Tensor> items = [];

    public int Count => items.Count;

    /// <summary>0 = the newest.</summary>
    public Tensor FromNewest(int age) => items[items.Count - 1 - age];

    public void Push(Tensor value)
    {
        items.Add(value.detach().DetachFromDisposeScope());
        if (items.Count <= capacity) return;
        items[0].Dispose();
        items.RemoveAt(0);
    }

    public void Clear()
    {
        foreach (var item in items) item.Dispose();
        items.Clear();
    }

    public void Dispose() => Clear();
}
