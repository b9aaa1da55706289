namespace LayoutGuidance.Schedulers;

/// <summary>
/// Inference timesteps, computed in double exactly as diffusers computes them with numpy (same
/// linspace/arange formulas, round-half-to-even), because a timestep that is off by one picks a
/// different ᾱ and the float timesteps of LMS/Euler feed the UNet unrounded.
/// </summary>
public static class TimestepSchedule
{
    /// <summary>
    /// The descending timesteps of DDIM, PNDM, LMS and Euler for <paramref name="steps"/> inference steps.
    /// <paramref name="roundLinspace"/>: DDIM and PNDM round linspace timesteps to integers; LMS and Euler keep them fractional.
    /// </summary>
    public static double[] Spaced(TimestepSpacing spacing, int trainSteps, int steps, int stepsOffset, bool roundLinspace)
    {
        switch (spacing)
        {
            case TimestepSpacing.Linspace:
                var linear = Linspace(0, trainSteps - 1, steps);
                if (roundLinspace) linear = linear.Select(t => Math.Round(t)).ToArray();
                return linear.Reverse().ToArray();
            case TimestepSpacing.Leading:
                var ratio = trainSteps / steps;
                return Enumerable.Range(0, steps).Reverse().Select(i => (double)(i * ratio + stepsOffset)).ToArray();
            case TimestepSpacing.Trailing:
                return Arange(trainSteps, 0, -(double)trainSteps / steps).Select(t => Math.Round(t) - 1).ToArray();
            default:
                throw new SchedulerConfigException($"timestep_spacing {spacing} is not supported; use linspace, leading or trailing");
        }
    }

    /// <summary>numpy.linspace(start, stop, num): start + i·step, with the endpoint set exactly.</summary>
    public static double[] Linspace(double start, double stop, int num)
    {
        if (num == 1) return [start];
        var values = new double[num];
        var step = (stop - start) / (num - 1);
        for (var i = 0; i < num; i++) values[i] = i * step + start;
        if (num > 1) values[^1] = stop;
        return values;
    }

    /// <summary>
    /// numpy.arange(start, stop, step) for a float step: ⌈(stop − start)/step⌉ values start + i·δ, where numpy
    /// takes δ = (start + step) − start, which can differ from step in the last bit.
    /// </summary>
    public static double[] Arange(double start, double stop, double step)
    {
        var count = (int)Math.Max(0, Math.Ceiling((stop - start) / step));
        var delta = start + step - start;
        var values = new double[count];
        for (var i = 0; i < count; i++) values[i] = i switch { 0 => start, 1 => start + step, _ => start + i * delta };
        return values;
    }

    /// <summary>numpy.interp(x, arange(len(table)), table): piecewise-linear lookup of a per-training-timestep table at fractional timesteps, clamped at the ends.</summary>
    public static double Interp(double x, IReadOnlyList<float> table)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x <= 0) return table[0];
        var last = table.Count - 1;
        if (x >= last) return table[last];
        var j = (int)Math.Floor(x);
        if (j == x) return table[j];
        var slope = (double)table[j + 1] - table[j];
        return slope * (x - j) + table[j];
    }
}
