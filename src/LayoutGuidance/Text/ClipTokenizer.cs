using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace LayoutGuidance.Text;

/// <summary>
/// The CLIP BPE tokenizer of a Stable Diffusion model folder (<c>tokenizer/</c>, and
/// <c>tokenizer_2/</c> for SDXL), reproducing transformers' slow <c>CLIPTokenizer</c> as diffusers
/// calls it: text cleanup (see <see cref="ClipTextNormalization"/>), CLIP's pre-tokenization,
/// byte-level BPE with <c>&lt;/w&gt;</c> word ends, then start token, at most
/// <c>model_max_length</c> − 2 tokens, end token and padding with the folder's pad token.
/// </summary>
/// <remarks>
/// The start, end and unknown tokens are never split: written literally in a prompt they become
/// their ids. The pad token is only used for padding, so with SD2.x's <c>!</c> a literal '!' is BPE
/// punctuation (id 256 when it ends a word), as in the reference fixtures' <c>ids_pad_zero</c>.
/// A tokenizer loaded by transformers' <c>from_pretrained</c> also registers its pad token as
/// never-split, which would turn a literal '!' into id 0 there; no reference fixture covers that.
/// </remarks>
public sealed class ClipTokenizer
{
    // transformers reads at most this many merges: CLIP's 49152-entry byte-level vocabulary less the
    // 256 byte symbols and 2 special tokens.
    private const int MaxMerges = 49152 - 256 - 2;

    private readonly BpeTokenizer _bpe;
    private readonly IReadOnlyDictionary<string, int> _vocabulary;
    private readonly string[] _unsplittable;

    private ClipTokenizer(string folder, ClipTokenizerConfig config, ClipTextNormalization normalization,
        Dictionary<string, int> vocabulary, IEnumerable<string> merges)
    {
        Folder = folder;
        Config = config;
        Normalization = normalization;
        _vocabulary = vocabulary;
        if (config.ModelMaxLength < 2)
            throw new ClipTokenizerException(
                $"{folder}: model_max_length {config.ModelMaxLength} leaves no room for the start and end tokens; " +
                "CLIP text encoders take 77");
        BosTokenId = IdOf(config.BosToken, "bos_token");
        EosTokenId = IdOf(config.EosToken, "eos_token");
        PadTokenId = IdOf(config.PadToken, "pad_token");
        IdOf(config.UnkToken, "unk_token"); // checked now: BPE falls back to it
        _unsplittable = new[] { config.BosToken, config.EosToken, config.UnkToken }.Distinct().ToArray();
        _bpe = BpeTokenizer.Create(new BpeOptions(vocabulary)
        {
            Merges = merges,
            EndOfWordSuffix = "</w>",
            ByteLevel = true,
            UnknownToken = config.UnkToken,
        });
    }

    /// <summary>
    /// Loads <c>vocab.json</c>, <c>merges.txt</c> and (when present) <c>tokenizer_config.json</c> and
    /// <c>special_tokens_map.json</c> from a tokenizer folder.
    /// </summary>
    public static ClipTokenizer FromPretrained(string folder,
        ClipTextNormalization normalization = ClipTextNormalization.BasicTokenizer)
    {
        var vocabFile = Path.Combine(folder, "vocab.json");
        var mergesFile = Path.Combine(folder, "merges.txt");
        foreach (var file in new[] { vocabFile, mergesFile })
            if (!File.Exists(file))
                throw new ClipTokenizerException(
                    $"{file} not found: a CLIP tokenizer folder (a model's tokenizer/ or tokenizer_2/) holds vocab.json and merges.txt");
        Dictionary<string, int> vocabulary;
        try
        {
            vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllBytes(vocabFile))
                         ?? throw new JsonException("the file holds null");
        }
        catch (JsonException e)
        {
            throw new ClipTokenizerException($"{vocabFile}: not a JSON object of token → id: {e.Message}");
        }
        // As transformers: the first line is the "#version" header, then one merge per line.
        var merges = File.ReadAllText(mergesFile).Trim().Split('\n').Skip(1).Take(MaxMerges)
            .Select(line => line.TrimEnd('\r')).ToArray();
        return new ClipTokenizer(folder, ClipTokenizerConfig.Read(folder), normalization, vocabulary, merges);
    }

    public string Folder { get; }
    public ClipTokenizerConfig Config { get; }
    public ClipTextNormalization Normalization { get; }

    /// <summary>Length of <see cref="ClipEncoding.InputIds"/> (<c>model_max_length</c>, 77 for CLIP).</summary>
    public int MaxLength => Config.ModelMaxLength;

    public int BosTokenId { get; }
    public int EosTokenId { get; }
    public int PadTokenId { get; }

    /// <summary>Tokenizes a prompt, truncated and padded to <see cref="MaxLength"/>.</summary>
    public ClipEncoding Encode(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var pieces = new List<ClipPiece>();
        var ids = new List<int> { BosTokenId };
        var normalizedParts = new List<string>();
        foreach (var (part, special) in SplitOnUnsplittable(prompt))
        {
            if (special)
            {
                normalizedParts.Add(part);
                pieces.Add(new ClipPiece(part, [part], [ids.Count]));
                ids.Add(_vocabulary[part]);
                continue;
            }
            var normalized = Normalize(part);
            if (normalized.Length == 0) continue;
            normalizedParts.Add(normalized);
            foreach (var piece in ClipPreTokenizer.Split(normalized))
            {
                var tokens = Bpe(piece);
                pieces.Add(new ClipPiece(piece, tokens.Select(t => t.Token).ToArray(),
                    Enumerable.Range(ids.Count, tokens.Count).ToArray()));
                ids.AddRange(tokens.Select(t => t.Id));
            }
        }
        ids.Add(EosTokenId);

        var kept = Math.Min(ids.Count - 2, MaxLength - 2);
        var inputIds = new int[MaxLength];
        Array.Fill(inputIds, PadTokenId);
        ids.CopyTo(0, inputIds, 0, kept + 1);
        inputIds[kept + 1] = EosTokenId;
        return new ClipEncoding(this, prompt, string.Join(' ', normalizedParts), pieces, ids.ToArray(), inputIds);
    }

    /// <summary>The piece texts a phrase becomes, for matching it against a prompt's pieces.</summary>
    internal IReadOnlyList<string> PieceTexts(string text) =>
        SplitOnUnsplittable(text)
            .SelectMany(p => p.Special ? [p.Text] : ClipPreTokenizer.Split(Normalize(p.Text)))
            .ToArray();

    private string Normalize(string text) => Normalization switch
    {
        ClipTextNormalization.BasicTokenizer => ClipBasicNormalizer.Normalize(text),
        ClipTextNormalization.Ftfy => ClipFtfyNormalizer.Normalize(text),
        _ => throw new ArgumentOutOfRangeException(nameof(Normalization), Normalization, "unknown normalization"),
    };

    private List<(string Token, int Id)> Bpe(string piece)
    {
        // CLIP's BPE keeps its two special tokens whole wherever the pre-tokenizer yields them.
        if (piece is "<|startoftext|>" or "<|endoftext|>" && _vocabulary.TryGetValue(piece, out var specialId))
            return [(piece, specialId)];
        return _bpe.EncodeToTokens(piece, out _, considerPreTokenization: false, considerNormalization: false)
            .Select(t => (t.Value, t.Id)).ToList();
    }

    // transformers splits the raw text on special tokens before any cleanup, and cleans each part alone.
    private IEnumerable<(string Text, bool Special)> SplitOnUnsplittable(string text)
    {
        var start = 0;
        var i = 0;
        while (i < text.Length)
        {
            var special = _unsplittable.Where(s => text.AsSpan(i).StartsWith(s, StringComparison.Ordinal))
                .MaxBy(s => s.Length);
            if (special is null)
            {
                i++;
                continue;
            }
            if (i > start) yield return (text[start..i], false);
            yield return (special, true);
            i += special.Length;
            start = i;
        }
        if (start < text.Length) yield return (text[start..], false);
    }

    private int IdOf(string? token, string key)
    {
        if (token is null)
            throw new ClipTokenizerException($"{Folder}: {key} is null in tokenizer_config.json / special_tokens_map.json; CLIP needs one");
        return _vocabulary.TryGetValue(token, out var id)
            ? id
            : throw new ClipTokenizerException(
                $"{Folder}: {key} \"{token}\" is not in vocab.json; the tokenizer configs and the vocabulary do not belong together");
    }
}
