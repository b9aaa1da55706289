namespace LayoutGuidance.Guidance;

/// <summary>None (plain generation), Forward (edit the maps, paper §3.2) or Backward (steer the latent, §3.3).</summary>
public enum GuidanceMode { None, Forward, Backward }
