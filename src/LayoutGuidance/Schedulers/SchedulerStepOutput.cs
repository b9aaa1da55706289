using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

/// <summary>
/// One denoising step's result: x_{t−1}, and the predicted x_0 where the scheduler returns one
/// (null for PNDM and DPM-Solver, as in diffusers). The caller owns both tensors.
/// </summary>
public sealed record SchedulerStepOutput(Tensor PrevSample, Tensor? PredOriginalSample) : IDisposable
{
    public void Dispose()
    {
        PrevSample.Dispose();
        PredOriginalSample?.Dispose();
    }
}
