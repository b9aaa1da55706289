using TorchSharp;

namespace LayoutGuidance.Weights;

/// <summary>The dtypes of the safetensors format this project reads and writes.</summary>
public enum SafeTensorsDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL }

public static class SafeTensorsDTypes
{
    public static int ElementSize(this SafeTensorsDType t) => t switch
    {
        SafeTensorsDType.F64 or SafeTensorsDType.I64 => 8,
        SafeTensorsDType.F32 or SafeTensorsDType.I32 => 4,
        SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.I16 => 2,
        _ => 1,
    };

    public static torch.ScalarType ToScalarType(this SafeTensorsDType t) => t switch
    {
        SafeTensorsDType.F64 => torch.ScalarType.Float64,
        SafeTensorsDType.F32 => torch.ScalarType.Float32,
        SafeTensorsDType.F16 => torch.ScalarType.Float16,
        SafeTensorsDType.BF16 => torch.ScalarType.BFloat16,
        SafeTensorsDType.I64 => torch.ScalarType.Int64,
        SafeTensorsDType.I32 => torch.ScalarType.Int32,
        SafeTensorsDType.I16 => torch.ScalarType.Int16,
        SafeTensorsDType.I8 => torch.ScalarType.Int8,
        SafeTensorsDType.U8 => torch.ScalarType.Byte,
        SafeTensorsDType.BOOL => torch.ScalarType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(t)),
    };

    public static SafeTensorsDType FromScalarType(torch.ScalarType t) => t switch
    {
        torch.ScalarType.Float64 => SafeTensorsDType.F64,
        torch.ScalarType.Float32 => SafeTensorsDType.F32,
        torch.ScalarType.Float16 => SafeTensorsDType.F16,
        torch.ScalarType.BFloat16 => SafeTensorsDType.BF16,
        torch.ScalarType.Int64 => SafeTensorsDType.I64,
        torch.ScalarType.Int32 => SafeTensorsDType.I32,
        torch.ScalarType.Int16 => SafeTensorsDType.I16,
        torch.ScalarType.Int8 => SafeTensorsDType.I8,
        torch.ScalarType.Byte => SafeTensorsDType.U8,
        torch.ScalarType.Bool => SafeTensorsDType.BOOL,
        _ => throw new NotSupportedException($"dtype {t} has no safetensors equivalent"),
    };
}
