namespace LayoutGuidance.Guidance;

/// <summary>
/// Which cross-attention layers (Γ in the paper) the guidance reads, as diffusers module-path patterns,
/// so the choice is an experiment axis. A pattern matches a path equal to it or below it on a '.'
/// boundary (<c>up_blocks.1</c> matches <c>up_blocks.1.attentions.0.transformer_blocks.0.attn2</c>, not
/// <c>up_blocks.10…</c>); its first segment may be shortened: <c>mid</c> = <c>mid_block</c>,
/// <c>up</c> = <c>up_blocks</c>, <c>down</c> = <c>down_blocks</c>. Patterns that name a transformer block
/// (contain <c>transformer_blocks</c>) pick exactly the paths they name; the others pick, per matched
/// attention, the blocks <see cref="Blocks"/> says.
/// String form (<see cref="Parse"/>, <see cref="ToString"/>): patterns joined by '+', optionally
/// "@all" or "@last" for <see cref="Blocks"/>: "mid+up_blocks.1", "up@all".
/// </summary>
public sealed record LayerSelection
{
    const string BlocksSegment = "transformer_blocks";

    public IReadOnlyList<string> Patterns { get; }
    public TransformerBlocks Blocks { get; }

    public LayerSelection(IReadOnlyList<string> patterns, TransformerBlocks blocks = TransformerBlocks.Last)
    {
        if (patterns.Count == 0)
            throw new LayerSelectionException("a layer selection needs at least one pattern, e.g. \"mid+up_blocks.1\"", []);
        var normalised = new List<string>();
        foreach (var raw in patterns)
        {
            var p = raw.Trim();
            if (p.Length == 0 || p.Split('.').Any(s => s.Length == 0))
                throw new LayerSelectionException($"layer pattern '{raw}' is empty or has an empty segment; write module paths like \"up_blocks.1\"", []);
            normalised.Add(Expand(p));
        }
        Patterns = normalised;
        Blocks = blocks;
    }

    /// <summary>The reference's layers for SD1.5 and SD2.1: the mid block and every attention of up_blocks.1, last block each.</summary>
    public static LayerSelection StableDiffusion { get; } = new(["mid_block", "up_blocks.1"]);

    /// <summary>SDXL's counterpart: the mid block and up_blocks.0 (its first up block with cross-attention), last block each.</summary>
    public static LayerSelection StableDiffusionXL { get; } = new(["mid_block", "up_blocks.0"]);

    /// <summary>The default for a model family: "sd15", "sd21", "sd" (either: they share the UNet layout) or "sdxl".</summary>
    public static LayerSelection ForFamily(string family) => family.ToLowerInvariant() switch
    {
        "sd15" or "sd21" or "sd" => StableDiffusion,
        "sdxl" => StableDiffusionXL,
        _ => throw new ArgumentException($"unknown model family '{family}'; expected sd15, sd21, sd or sdxl", nameof(family)),
    };

    public static LayerSelection Parse(string spec)
    {
        var at = spec.LastIndexOf('@');
        var blocks = TransformerBlocks.Last;
        if (at >= 0)
        {
            blocks = spec[(at + 1)..].Trim().ToLowerInvariant() switch
            {
                "all" => TransformerBlocks.All,
                "last" => TransformerBlocks.Last,
                var other => throw new LayerSelectionException($"layer selection '{spec}' ends in '@{other}'; use '@all' or '@last'", []),
            };
            spec = spec[..at];
        }
        return new LayerSelection(spec.Split('+'), blocks);
    }

    /// <summary>
    /// The chosen paths out of <paramref name="crossAttentionPaths"/> (every attn2 path of a UNet), in
    /// their (forward) order. A pattern that matches nothing is an error listing what there is.
    /// </summary>
    public IReadOnlyList<string> Resolve(IReadOnlyList<string> crossAttentionPaths)
    {
        var blockFiltered = Blocks == TransformerBlocks.All ? crossAttentionPaths : LastBlocks(crossAttentionPaths);
        var chosen = new HashSet<string>();
        foreach (var pattern in Patterns)
        {
            var candidates = pattern.Split('.').Contains(BlocksSegment) ? crossAttentionPaths : blockFiltered;
            var hits = candidates.Where(path => path == pattern || path.StartsWith(pattern + ".", StringComparison.Ordinal)).ToArray();
            if (hits.Length == 0)
                throw new LayerSelectionException($"layer pattern '{pattern}' matches no cross-attention layer of this UNet", crossAttentionPaths);
            chosen.UnionWith(hits);
        }
        return crossAttentionPaths.Where(chosen.Contains).ToArray();
    }

    /// <summary>Per attention (the path up to ".transformer_blocks."), the path of its highest-numbered block.</summary>
    static IReadOnlyList<string> LastBlocks(IReadOnlyList<string> paths)
    {
        var last = new Dictionary<string, (int Block, string Path)>();
        foreach (var path in paths)
        {
            var (attention, block) = SplitBlock(path);
            if (!last.TryGetValue(attention, out var seen) || block > seen.Block) last[attention] = (block, path);
        }
        var keep = last.Values.Select(v => v.Path).ToHashSet();
        return paths.Where(keep.Contains).ToArray();
    }

    static (string Attention, int Block) SplitBlock(string path)
    {
        var marker = "." + BlocksSegment + ".";
        var i = path.IndexOf(marker, StringComparison.Ordinal);
        if (i < 0) return (path, 0);
        var rest = path[(i + marker.Length)..];
        var digits = rest.Split('.')[0];
        return (path[..i], int.TryParse(digits, out var n) ? n : 0);
    }

    static string Expand(string pattern)
    {
        var dot = pattern.IndexOf('.');
        var head = dot < 0 ? pattern : pattern[..dot];
        var tail = dot < 0 ? "" : pattern[dot..];
        return head switch
        {
            "mid" => "mid_block",
            "up" => "up_blocks",
            "down" => "down_blocks",
            _ => head,
        } + tail;
    }

    public bool Equals(LayerSelection? other) => other is not null && ToString() == other.ToString();
    public override int GetHashCode() => ToString().GetHashCode();

    public override string ToString() =>
        string.Join("+", Patterns) + (Blocks == TransformerBlocks.All ? "@all" : "");
}
