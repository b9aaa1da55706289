using static TorchSharp.torch;

namespace LayoutGuidance.Schedulers;

/// <summary>
/// The fresh Gaussian noise a stochastic scheduler adds at step <paramref name="stepIndex"/>, shaped,
/// typed and placed like <paramref name="like"/>. Injectable so a run can replay recorded noise.
/// The scheduler disposes the tensor returned.
/// </summary>
public delegate Tensor StepNoise(int stepIndex, Tensor like);
