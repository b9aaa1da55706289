namespace LayoutGuidance.Pipelines;

/// <summary>Which pipeline semantics a model folder follows: SD1.x/SD2.x share one, SDXL has two text encoders and micro-conditioning.</summary>
public enum ModelFamily { StableDiffusion, StableDiffusionXL }
