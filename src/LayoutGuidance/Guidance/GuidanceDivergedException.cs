namespace LayoutGuidance.Guidance;

/// <summary>Backward guidance produced a non-finite energy or gradient at a step and iteration.</summary>
public sealed class GuidanceDivergedException(int stepIndex, int iteration, double loss, bool gradientFinite)
    : Exception($"backward guidance diverged at step {stepIndex}, iteration {iteration}: energy {loss}, gradient {(gradientFinite ? "finite" : "not finite")}. " +
                "Lower the loss scale η, or set OnDivergence = SkipUpdate to leave such steps unguided")
{
    public int StepIndex { get; } = stepIndex;
    public int Iteration { get; } = iteration;
    public double Loss { get; } = loss;
}
