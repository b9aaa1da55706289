namespace LayoutGuidance.Bench;

/// <summary>Median and range of repeated measurements.</summary>
readonly record struct Spread(double Median, double Min, double Max, int Count)
{
    public static Spread Of(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        if (v.Length == 0) throw new ArgumentException("no values to summarise", nameof(values));
        var median = v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
        return new Spread(median, v[0], v[^1], v.Length);
    }

    /// <summary>Half the range relative to the median, in percent.</summary>
    public double RelativeHalfRange => Median == 0 ? 0 : 50 * (Max - Min) / Median;
}
