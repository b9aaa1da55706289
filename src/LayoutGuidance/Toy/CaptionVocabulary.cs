using System.Text;

namespace LayoutGuidance.Toy;

/// <summary>
/// The toy model's CLIP-format BPE vocabulary, learned from the caption words so that every word is a
/// single token (so every colour and shape word has exactly one token position for layout guidance).
/// Layout of the files as in the tiny reference tokenizers: ids 0–255 the byte symbols (GPT-2
/// byte-to-unicode order), 256–511 the same + <c>&lt;/w&gt;</c>, then one token per merge in merge
/// order, then <c>&lt;|startoftext|&gt;</c> and <c>&lt;|endoftext|&gt;</c> last.
/// </summary>
public static class CaptionVocabulary
{
    public const string StartOfText = "<|startoftext|>";
    public const string EndOfText = "<|endoftext|>";
    const string EndOfWord = "</w>";

    /// <summary>
    /// GPT-2's byte-to-unicode table in CLIP's vocabulary order: the printable Latin-1 bytes map to
    /// themselves and come first, then every other byte, mapped to U+0100 onwards. (Declared before
    /// the learned tables, which static initialisation builds from it in textual order.)
    /// </summary>
    static readonly (int Byte, string Symbol)[] ByteTable = BuildByteTable();

    static readonly string[] ByteSymbols = ByteTable.OrderBy(e => e.Byte).Select(e => e.Symbol).ToArray();

    /// <summary>The merges, in rank order, learned from <see cref="ShapeWords.CaptionWords"/>.</summary>
    public static IReadOnlyList<(string Left, string Right)> Merges { get; } = LearnMerges(ShapeWords.CaptionWords);

    /// <summary>Token → id.</summary>
    public static IReadOnlyDictionary<string, int> Vocabulary { get; } = BuildVocabulary(Merges);

    /// <summary>
    /// Byte-level BPE training: repeatedly merges the most frequent adjacent pair (ties: the ordinally
    /// smallest pair) until every word is one symbol.
    /// </summary>
    static IReadOnlyList<(string Left, string Right)> LearnMerges(IEnumerable<string> words)
    {
        var symbols = words.Distinct().Select(Symbols).ToList();
        var merges = new List<(string, string)>();
        while (true)
        {
            var counts = new Dictionary<(string Left, string Right), int>();
            foreach (var word in symbols)
                for (var i = 0; i + 1 < word.Count; i++)
                    counts[(word[i], word[i + 1])] = counts.GetValueOrDefault((word[i], word[i + 1])) + 1;
            if (counts.Count == 0) return merges;
            var best = counts
                .OrderByDescending(kv => kv.Value)
                .ThenBy(kv => kv.Key.Left, StringComparer.Ordinal)
                .ThenBy(kv => kv.Key.Right, StringComparer.Ordinal)
                .First().Key;
            merges.Add(best);
            foreach (var word in symbols) Merge(word, best);
        }
    }

    /// <summary>Writes vocab.json, merges.txt, tokenizer_config.json and special_tokens_map.json (CLIPTokenizer, pads with &lt;|endoftext|&gt;).</summary>
    public static void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        var vocab = new StringBuilder("{\n");
        var entries = Vocabulary.OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        for (var i = 0; i < entries.Count; i++)
            vocab.Append($"  \"{JsonEscape(entries[i].Key)}\": {entries[i].Value}{(i + 1 < entries.Count ? "," : "")}\n");
        vocab.Append("}\n");
        File.WriteAllText(Path.Combine(directory, "vocab.json"), vocab.ToString(), utf8);
        File.WriteAllText(Path.Combine(directory, "merges.txt"),
            "#version: 0.2\n" + string.Concat(Merges.Select(m => $"{m.Left} {m.Right}\n")), utf8);
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), TokenizerConfig, utf8);
        File.WriteAllText(Path.Combine(directory, "special_tokens_map.json"), SpecialTokensMap, utf8);
    }

    static List<string> Symbols(string word)
    {
        var symbols = Encoding.UTF8.GetBytes(word).Select(b => ByteSymbols[b]).ToList();
        symbols[^1] += EndOfWord;
        return symbols;
    }

    static void Merge(List<string> word, (string Left, string Right) pair)
    {
        for (var i = 0; i + 1 < word.Count; i++)
        {
            if (word[i] != pair.Left || word[i + 1] != pair.Right) continue;
            word[i] = pair.Left + pair.Right;
            word.RemoveAt(i + 1);
        }
    }

    static Dictionary<string, int> BuildVocabulary(IReadOnlyList<(string Left, string Right)> merges)
    {
        IEnumerable<string> tokens =
        [
            .. ByteTable.Select(e => e.Symbol), .. ByteTable.Select(e => e.Symbol + EndOfWord),
            .. merges.Select(m => m.Left + m.Right), StartOfText, EndOfText,
        ];
        var vocabulary = new Dictionary<string, int>();
        foreach (var token in tokens)
            if (!vocabulary.TryAdd(token, vocabulary.Count))
                throw new InvalidOperationException($"BPE token '{token}' arises twice; the caption words need a different merge order");
        return vocabulary;
    }

    static (int Byte, string Symbol)[] BuildByteTable()
    {
        var printable = Enumerable.Range('!', '~' - '!' + 1)
            .Concat(Enumerable.Range('¡', '¬' - '¡' + 1))
            .Concat(Enumerable.Range('®', 'ÿ' - '®' + 1))
            .ToList();
        var table = printable.Select(b => (b, ((char)b).ToString())).ToList();
        var next = 256;
        for (var b = 0; b < 256; b++)
            if (!printable.Contains(b)) table.Add((b, ((char)next++).ToString()));
        return [.. table];
    }

    static string JsonEscape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"");

    const string TokenizerConfig = """
        {
          "bos_token": {
            "__type": "AddedToken",
            "content": "<|startoftext|>",
            "lstrip": false,
            "normalized": true,
            "rstrip": false,
            "single_word": false
          },
          "clean_up_tokenization_spaces": true,
          "eos_token": {
            "__type": "AddedToken",
            "content": "<|endoftext|>",
            "lstrip": false,
            "normalized": true,
            "rstrip": false,
            "single_word": false
          },
          "errors": "replace",
          "model_max_length": 77,
          "pad_token": "<|endoftext|>",
          "tokenizer_class": "CLIPTokenizer",
          "unk_token": {
            "__type": "AddedToken",
            "content": "<|endoftext|>",
            "lstrip": false,
            "normalized": true,
            "rstrip": false,
            "single_word": false
          }
        }

        """;

    const string SpecialTokensMap = """
        {
          "bos_token": {
            "content": "<|startoftext|>",
            "lstrip": false,
            "normalized": true,
            "rstrip": false,
            "single_word": false
          },
          "eos_token": {
            "content": "<|endoftext|>",
            "lstrip": false,
            "normalized": true,
            "rstrip": false,
            "single_word": false
          },
          "pad_token": "<|endoftext|>",
          "unk_token": {
            "content": "<|endoftext|>",
            "lstrip": false,
            "normalized": true,
            "rstrip": false,
            "single_word": false
          }
        }

        """;
}
