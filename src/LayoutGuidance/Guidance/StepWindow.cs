namespace LayoutGuidance.Guidance;

/// <summary>
/// The denoising step indices [Start, End) during which guidance acts (index 0 = the first, noisiest
/// step). The reference's <c>max_index_step = 10</c> is [0, 10). An empty window turns guidance off.
/// </summary>
public readonly record struct StepWindow
{
    public int Start { get; }
    public int End { get; }

    public StepWindow(int start, int end)
    {
        if (start < 0) throw new GuidanceOptionsException("Window.Start", start, "step indices start at 0");
        if (end < start) throw new GuidanceOptionsException("Window.End", end, $"the window [start, end) needs end >= start = {start}");
        Start = start;
        End = end;
    }

    /// <summary>The reference's form: the first <paramref name="steps"/> steps.</summary>
    public static StepWindow First(int steps) => new(0, steps);

    public bool Contains(int stepIndex) => stepIndex >= Start && stepIndex < End;

    public override string ToString() => $"[{Start},{End})";
}
