namespace LayoutGuidance.Toy.Training;

/// <summary>
/// Learning rate as a function of the step alone, so a resumed run continues the same curve: linear
/// warm-up, constant, then optionally a cosine down to zero at the last step.
/// </summary>
public static class LearningRateSchedule
{
    /// <param name="peak">the rate after warm-up</param>
    /// <param name="step">0-based optimizer step</param>
    /// <param name="warmup">steps of linear warm-up from peak / warmup</param>
    /// <param name="decayFrom">step where the cosine starts (null: constant to the end)</param>
    /// <param name="total">steps of the whole run; the rate reaches zero there</param>
    public static double At(double peak, int step, int warmup, int? decayFrom, int total)
    {
        var rate = peak * Math.Min(1.0, (step + 1.0) / Math.Max(1, warmup));
        if (decayFrom is not { } from || step < from) return rate;
        var progress = Math.Min(1.0, (step - from) / (double)Math.Max(1, total - from));
        return rate * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}
