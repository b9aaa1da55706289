namespace LayoutGuidance.Schedulers;

/// <summary>A scheduler config that names an unknown class or asks for something the class cannot do.</summary>
public sealed class SchedulerConfigException(string message) : Exception(message);
