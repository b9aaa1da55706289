using LayoutGuidance.Evaluation;
using LayoutGuidance.Text;
using static TorchSharp.torch;

namespace LayoutGuidance.Toy.Training;

/// <summary>A caption's 77 input ids and, per object in caption order, the token positions of its colour and shape words.</summary>
sealed record EncodedCaption(long[] InputIds, IReadOnlyList<int[]> ObjectPositions);

/// <summary>Tokenizes captions once each (the caption language is small) and builds the batch tensors training needs.</summary>
sealed class ToyCaptions(ClipTokenizer tokenizer)
{
    readonly Dictionary<string, EncodedCaption> cache = new();

    public EncodedCaption Encode(ShapeSample sample)
    {
        if (cache.TryGetValue(sample.Caption, out var known)) return known;
        var encoding = tokenizer.Encode(sample.Caption);
        var pieces = encoding.Pieces;
        var positions = new List<int[]>();
        var next = 0;
        foreach (var o in sample.Objects)
        {
            int Find(string word)
            {
                while (next < pieces.Count && pieces[next].Text != word) next++;
                if (next == pieces.Count)
                    throw new InvalidOperationException($"caption \"{sample.Caption}\" has no '{word}' token in order; tokens: {encoding.DescribeTokens()}");
                return pieces[next++].Positions.Single();
            }
            positions.Add([Find(o.Color.Word()), Find(o.Shape.Word())]);
        }
        var encoded = new EncodedCaption(encoding.InputIds.Select(i => (long)i).ToArray(), positions);
        cache[sample.Caption] = encoded;
        return encoded;
    }

    public long[] EmptyPrompt() => tokenizer.Encode("").InputIds.Select(i => (long)i).ToArray();

    public static Tensor Ids(IReadOnlyList<long[]> ids) =>
        tensor(ids.SelectMany(i => i).ToArray(), [ids.Count, ids[0].Length], ScalarType.Int64);

    /// <summary>
    /// [B, tokens, grid²] share of each map cell covered by the box of the object a token names (zero rows
    /// for other tokens and for samples left out), and the matching [B, tokens] 0/1 weights.
    /// </summary>
    public static (Tensor Masks, Tensor Weights) TokenBoxMasks(
        IReadOnlyList<ShapeSample> samples, IReadOnlyList<EncodedCaption> captions, bool[] include, int grid, int tokens)
    {
        var masks = new float[samples.Count * tokens * grid * grid];
        var weights = new float[samples.Count * tokens];
        for (var b = 0; b < samples.Count; b++)
        {
            if (!include[b]) continue;
            for (var o = 0; o < samples[b].Objects.Count; o++)
            {
                var cells = Coverage(samples[b].Objects[o].Box, grid);
                foreach (var position in captions[b].ObjectPositions[o])
                {
                    weights[b * tokens + position] = 1;
                    cells.CopyTo(masks, (b * tokens + position) * grid * grid);
                }
            }
        }
        return (tensor(masks, [samples.Count, tokens, grid * grid]), tensor(weights, [samples.Count, tokens]));
    }

    static float[] Coverage(Box box, int grid)
    {
        var cells = new float[grid * grid];
        for (var y = 0; y < grid; y++)
        for (var x = 0; x < grid; x++)
        {
            var overlapX = Math.Max(0, Math.Min(box.X1, (x + 1.0) / grid) - Math.Max(box.X0, (double)x / grid));
            var overlapY = Math.Max(0, Math.Min(box.Y1, (y + 1.0) / grid) - Math.Max(box.Y0, (double)y / grid));
            cells[y * grid + x] = (float)(overlapX * overlapY * grid * grid);
        }
        return cells;
    }
}
