using System.Diagnostics;
using static TorchSharp.torch;

namespace LayoutGuidance.Bench;

/// <summary>
/// The machine's matrix-multiply throughput: repeated n×n by n×n products of random matrices in one
/// dtype, enough of them per sample (about a quarter second) for the timer to be exact.
/// </summary>
sealed class Gemm : IDisposable
{
    readonly Tensor a, b;
    readonly int repeats;

    public Gemm(long n, ScalarType dtype)
    {
        N = n;
        using (var scope = NewDisposeScope())
        {
            a = randn(n, n).to(dtype).DetachFromDisposeScope();
            b = randn(n, n).to(dtype).DetachFromDisposeScope();
        }
        Multiply(1);
        var clock = Stopwatch.StartNew();
        Multiply(1);
        repeats = Math.Max(1, (int)Math.Round(0.25 / clock.Elapsed.TotalSeconds));
    }

    public long N { get; }
    public double Gflop => 2.0 * N * N * N * repeats / 1e9;

    public void Run() => Multiply(repeats);

    void Multiply(int times)
    {
        for (var i = 0; i < times; i++) a.matmul(b).Dispose();
    }

    public void Dispose()
    {
        a.Dispose();
        b.Dispose();
    }
}
