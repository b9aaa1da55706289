using System.Globalization;
using System.Reflection;
using System.Text;

namespace LayoutGuidance.Bench;

/// <summary>Writes records as CSV: one column per public property (snake_case), invariant culture; a <see cref="Spread"/> becomes median/min/max columns.</summary>
static class Csv
{
    public static void Write<T>(string path, IEnumerable<T> rows)
    {
        var properties = typeof(T).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.GetIndexParameters().Length == 0).ToArray();
        var header = properties.SelectMany(p => p.PropertyType == typeof(Spread)
            ? new[] { "median", "min", "max" }.Select(s => $"{Snake(p.Name)}_{s}")
            : [Snake(p.Name)]);
        var text = new StringBuilder().AppendLine(string.Join(",", header));
        foreach (var row in rows)
            text.AppendLine(string.Join(",", properties.SelectMany(p => Cells(p.GetValue(row)))));
        File.WriteAllText(path, text.ToString());
    }

    static IEnumerable<string> Cells(object? value) => value switch
    {
        Spread s => [Number(s.Median), Number(s.Min), Number(s.Max)],
        double d => [Number(d)],
        string s => [s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s],
        IFormattable f => [f.ToString(null, CultureInfo.InvariantCulture)],
        null => [""],
        var o => [o.ToString() ?? ""],
    };

    static string Number(double d) => d.ToString("G6", CultureInfo.InvariantCulture);

    static string Snake(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
