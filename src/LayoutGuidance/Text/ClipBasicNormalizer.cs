using System.Globalization;
using System.Text;

namespace LayoutGuidance.Text;

/// <summary>
/// transformers' fallback text cleanup for CLIP when ftfy is not installed:
/// <c>" ".join(BasicTokenizer(strip_accents=False, do_split_on_punc=False).tokenize(text))</c>.
/// Drops NUL, U+FFFD and control/format/unassigned/private-use characters, maps whitespace to spaces,
/// puts spaces around CJK ideographs, NFC-normalises, splits on whitespace and lower-cases each word.
/// </summary>
internal static class ClipBasicNormalizer
{
    internal static string Normalize(string text)
    {
        var cleaned = new StringBuilder(text.Length + 8);
        for (var i = 0; i < text.Length; i++)
        {
            // A lone surrogate is category Cs, a control character to BasicTokenizer: dropped.
            if (!Rune.TryGetRuneAt(text, i, out var r)) continue;
            if (!r.IsBmp) i++;
            if (r.Value is 0 or 0xFFFD || IsControl(r)) continue;
            if (IsWhitespace(r)) cleaned.Append(' ');
            else if (IsCjkIdeograph(r.Value)) cleaned.Append(' ').Append(r.ToString()).Append(' ');
            else cleaned.Append(r.ToString());
        }
        var words = ClipPythonText.SplitOnSpace(cleaned.ToString().Normalize(NormalizationForm.FormC));
        return string.Join(' ', words.Select(ClipPythonText.Lower));
    }

    private static bool IsWhitespace(Rune r) =>
        r.Value is ' ' or '\t' or '\n' or '\r' || Rune.GetUnicodeCategory(r) == UnicodeCategory.SpaceSeparator;

    private static bool IsControl(Rune r) =>
        r.Value is not ('\t' or '\n' or '\r')
        && Rune.GetUnicodeCategory(r) is UnicodeCategory.Control or UnicodeCategory.Format
            or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;

    // BasicTokenizer's "Chinese character" blocks: CJK Unified Ideographs and their extensions and
    // compatibility ideographs (not Hiragana, Katakana or Hangul).
    private static bool IsCjkIdeograph(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF
            or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF
            or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
