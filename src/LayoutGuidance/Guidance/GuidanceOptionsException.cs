namespace LayoutGuidance.Guidance;

/// <summary>A guidance option out of range: names the option, the value and what is allowed.</summary>
public sealed class GuidanceOptionsException(string option, object value, string allowed)
    : ArgumentOutOfRangeException(option, value, $"{option} = {value} is invalid: {allowed}")
{
    public string Option { get; } = option;
}
