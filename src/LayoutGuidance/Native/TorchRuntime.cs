using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace LayoutGuidance.Native;

/// <summary>
/// Loads libtorch and LibTorchSharp by full path from the folder that holds TorchSharp.dll (the build
/// output), in dependency order, before TorchSharp asks for them by name. The dynamic loader then
/// matches every later request by soname to these copies, so a system libtorch (Debian's
/// python3-torch puts libtorch 1.13 in /usr/lib) can never be picked up instead.
/// </summary>
public static class TorchRuntime
{
    static readonly string[] LinuxLoadOrder =
        ["libgomp-98b21ff3.so.1", "libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so", "libLibTorchSharp.so"];

    static readonly object Gate = new();
    static bool initialized;

    /// <summary>The folder the native libraries were loaded from.</summary>
    public static string NativeDirectory { get; } = Path.GetDirectoryName(typeof(torch).Assembly.Location) ?? AppContext.BaseDirectory;

    /// <summary>Idempotent. Throws <see cref="TorchLoadException"/> with the real cause when a library cannot load.</summary>
    public static void Initialize()
    {
        lock (Gate)
        {
            if (initialized) return;
            if (OperatingSystem.IsLinux())
            {
                foreach (var name in LinuxLoadOrder)
                {
                    var path = Path.Combine(NativeDirectory, name);
                    if (!File.Exists(path))
                    {
                        if (name is "libc10_cuda.so" or "libtorch_cuda.so" || name.StartsWith("libgomp")) continue;
                        throw new TorchLoadException($"{path} is missing. Build the project (dotnet build) so the native libraries are copied next to TorchSharp.dll.");
                    }
                    if (!NativeLibrary.TryLoad(path, out _))
                        throw new TorchLoadException(Diagnose(path));
                }
            }
            torch.InitializeDeviceType(DeviceType.CPU);
            initialized = true;
        }
    }

    /// <summary>A device by name ("cpu", "cuda", "cuda:1"), with a clear error when its backend is absent.</summary>
    public static torch.Device Device(string name)
    {
        Initialize();
        var unavailable = $"device '{name}' was asked for but CUDA is not available: build with -p:TorchBackend=cuda on a machine with an NVIDIA driver, or use --device cpu.";
        torch.Device device;
        // A CPU-only libtorch fails while TorchSharp initialises the CUDA backend, before is_available can say no.
        try { device = torch.device(name); }
        catch (InvalidOperationException) { throw new TorchLoadException(unavailable); }
        if (device.type == DeviceType.CUDA && !torch.cuda.is_available())
            throw new TorchLoadException(unavailable);
        return device;
    }

    // dlopen's own message names the missing symbol version or library; TorchSharp's wrapper hides it.
    static string Diagnose(string path)
    {
        var reason = "";
        try { NativeLibrary.Load(path); }
        catch (DllNotFoundException e) { reason = e.Message; }
        var hint = reason.Contains("GLIBCXX")
            ? " The system libstdc++ is older than the one TorchSharp was linked against; the build step that weakens that unused version need did not run on this copy (run dotnet build, see README › Troubleshooting)."
            : "";
        return $"cannot load {path}: {reason}{hint}";
    }
}

public sealed class TorchLoadException(string message) : Exception(message);
