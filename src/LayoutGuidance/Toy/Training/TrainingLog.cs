using System.Diagnostics;
using System.Globalization;

namespace LayoutGuidance.Toy.Training;

/// <summary>Appends one CSV row per logged step (with seconds per step and resident memory, to show memory stays flat) and echoes it.</summary>
sealed class TrainingLog(string path, string[] lossColumns, Action<string> echo)
{
    readonly Stopwatch clock = Stopwatch.StartNew();
    int stepsSinceRow;

    public void Step() => stepsSinceRow++;

    public void Write(int step, IReadOnlyList<double> losses)
    {
        if (!File.Exists(path))
            File.WriteAllText(path, "step," + string.Join(",", lossColumns) + ",seconds_per_step,rss_mb,time\n");
        var secondsPerStep = clock.Elapsed.TotalSeconds / Math.Max(1, stepsSinceRow);
        clock.Restart();
        stepsSinceRow = 0;
        var rssMb = Environment.WorkingSet / (1024.0 * 1024.0);
        var row = string.Join(",", [
            step.ToString(CultureInfo.InvariantCulture),
            .. losses.Select(l => l.ToString("G5", CultureInfo.InvariantCulture)),
            secondsPerStep.ToString("F3", CultureInfo.InvariantCulture),
            rssMb.ToString("F0", CultureInfo.InvariantCulture),
            DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture)]);
        File.AppendAllText(path, row + "\n");
        echo($"step {step}: " + string.Join(", ", lossColumns.Zip(losses, (n, l) => $"{n} {l:G4}")) + $", {secondsPerStep:F2} s/step, rss {rssMb:F0} MB");
    }
}
