namespace LayoutGuidance.Bench;

/// <summary>
/// This process's resident set from /proc/self/status. The peak (VmHWM) never falls by itself;
/// writing 5 to /proc/self/clear_refs resets it to the current RSS, so one phase's peak can be read
/// in a process that has already loaded a model.
/// </summary>
static class ResidentMemory
{
    public static long CurrentBytes => Read("VmRSS:");
    public static long PeakBytes => Read("VmHWM:");

    public static void ResetPeak() => File.WriteAllText("/proc/self/clear_refs", "5");

    static long Read(string key)
    {
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(key, StringComparison.Ordinal));
        return long.Parse(line[key.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
    }

    public static double MiB(long bytes) => bytes / (1024.0 * 1024.0);
}
