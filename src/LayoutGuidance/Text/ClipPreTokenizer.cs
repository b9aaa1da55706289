using System.Globalization;
using System.Text;

namespace LayoutGuidance.Text;

/// <summary>
/// CLIP's pre-tokenization of normalised text, the pieces that BPE then splits:
/// <c>regex.findall(r"&lt;\|startoftext\|&gt;|&lt;\|endoftext\|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+", text, IGNORECASE)</c>.
/// Written as a scan over code points rather than a .NET regex because .NET's \p{L} and \p{N} test
/// UTF-16 units, so letters and digits outside the BMP would be classed as symbols.
/// </summary>
internal static class ClipPreTokenizer
{
    private static readonly string[] Specials = ["<|startoftext|>", "<|endoftext|>"];
    private static readonly string[] Contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];

    internal static List<string> Split(string text)
    {
        var pieces = new List<string>();
        var i = 0;
        while (i < text.Length)
        {
            var literal = Specials.Concat(Contractions).FirstOrDefault(s => MatchesIgnoringCase(text, i, s));
            if (literal is not null)
            {
                pieces.Add(text.Substring(i, literal.Length));
                i += literal.Length;
                continue;
            }
            var kind = KindAt(text, i);
            var start = i;
            i += RuneLength(text, i);
            if (kind == Kind.Space) continue;
            if (kind != Kind.Number)
                while (i < text.Length && KindAt(text, i) == kind) i += RuneLength(text, i);
            pieces.Add(text[start..i]);
        }
        return pieces;
    }

    private enum Kind { Letter, Number, Space, Other }

    private static Kind KindAt(string text, int i)
    {
        // A lone surrogate is neither letter, digit nor space: it joins a run of symbols.
        if (!Rune.TryGetRuneAt(text, i, out var r)) return Kind.Other;
        if (ClipPythonText.IsSpace(r.Value)) return Kind.Space;
        return Rune.GetUnicodeCategory(r) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => Kind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber
                or UnicodeCategory.OtherNumber => Kind.Number,
            _ => Kind.Other,
        };
    }

    private static int RuneLength(string text, int i) =>
        char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]) ? 2 : 1;

    // IGNORECASE in Python's regex module uses simple case folding, under which 'ſ' (U+017F) also
    // matches 's'.
    private static bool MatchesIgnoringCase(string text, int i, string literal)
    {
        if (i + literal.Length > text.Length) return false;
        for (var k = 0; k < literal.Length; k++)
        {
            var c = text[i + k];
            var expected = literal[k];
            if (c == expected || char.ToLowerInvariant(c) == expected) continue;
            if (expected == 's' && c == '\u017F') continue;
            return false;
        }
        return true;
    }
}
