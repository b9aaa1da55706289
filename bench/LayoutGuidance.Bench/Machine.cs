using System.Diagnostics;
using System.Globalization;

namespace LayoutGuidance.Bench;

/// <summary>The machine a run measured on, as <c>lscpu</c> and <c>/proc/loadavg</c> describe it.</summary>
sealed record MachineInfo(string CpuModel, int Sockets, int CoresPerSocket, int ThreadsPerCore, bool Avx512Bf16, int TorchThreads, string TorchVersion, long MemoryMiB)
{
    public int Cores => Sockets * CoresPerSocket;

    public override string ToString() =>
        $"{CpuModel}, {Cores} cores ({Sockets} socket × {CoresPerSocket} cores × {ThreadsPerCore} thread/core), " +
        $"{(Avx512Bf16 ? "AVX-512 BF16" : "no AVX-512 BF16")}, {MemoryMiB / 1024.0:F0} GiB RAM; libtorch {TorchVersion} with {TorchThreads} intra-op threads";

    public static MachineInfo Describe()
    {
        var fields = Lscpu();
        string Field(string key) => fields.TryGetValue(key, out var v) ? v : "?";
        int Int(string key) => int.TryParse(Field(key), out var n) ? n : 0;
        var memKiB = File.ReadLines("/proc/meminfo").Where(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture)).FirstOrDefault();
        return new MachineInfo(Field("Model name"), Int("Socket(s)"), Int("Core(s) per socket"), Int("Thread(s) per core"),
            Field("Flags").Split(' ').Contains("avx512_bf16"), TorchSharp.torch.get_num_threads(), TorchSharp.torch.__version__, memKiB / 1024);
    }

    /// <summary>1-, 5- and 15-minute load averages: how busy the shared cores were.</summary>
    public static double[] LoadAverages() =>
        File.ReadAllText("/proc/loadavg").Split(' ').Take(3).Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();

    static Dictionary<string, string> Lscpu()
    {
        var psi = new ProcessStartInfo("lscpu") { RedirectStandardOutput = true, Environment = { ["LC_ALL"] = "C" } };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start lscpu (util-linux) to describe the CPU");
        var text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return text.Split('\n').Select(l => l.Split(':', 2)).Where(kv => kv.Length == 2)
            .GroupBy(kv => kv[0].Trim()).ToDictionary(g => g.Key, g => g.First()[1].Trim());
    }
}
