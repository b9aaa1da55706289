using System.Text.RegularExpressions;

namespace LayoutGuidance.Weights;

/// <summary>
/// The one renaming diffusers applies when loading: VAE checkpoints saved before diffusers 0.14 (the
/// published SD1.5/SD2.1 VAEs among them) name the mid-block attention projections query/key/value/proj_attn,
/// which the current Attention module calls to_q/to_k/to_v/to_out.0. Pass <see cref="ToCurrent"/> as
/// the rename hook of <see cref="ModuleWeights.Load"/>.
/// </summary>
public static partial class DeprecatedAttentionNames
{
    public static string ToCurrent(string key)
    {
        var m = OldName().Match(key);
        if (!m.Success) return key;
        var current = m.Groups["old"].Value switch
        {
            "query" => "to_q",
            "key" => "to_k",
            "value" => "to_v",
            _ => "to_out.0",
        };
        return $"{m.Groups["block"].Value}.{current}.{m.Groups["kind"].Value}";
    }

    [GeneratedRegex(@"^(?<block>.+\.attentions\.\d+)\.(?<old>query|key|value|proj_attn)\.(?<kind>weight|bias)$")]
    private static partial Regex OldName();
}
