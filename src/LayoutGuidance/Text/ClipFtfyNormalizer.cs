using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;

namespace LayoutGuidance.Text;

/// <summary>
/// transformers' CLIP text cleanup when ftfy is installed:
/// <c>whitespace_clean(ftfy.fix_text(text)).lower()</c>, with ftfy 6.1's default fixes: HTML entities
/// (unless the line holds a '&lt;'), C1 controls read as Windows-1252, Latin ligatures, full-width
/// characters, curly quotes, line breaks, lone surrogates, terminal escapes, control characters, NFC,
/// repeated until nothing changes.
/// ftfy's mojibake repair (re-decoding text that was UTF-8 read as a single-byte encoding) is not
/// reproduced; text that holds a UTF-8 sequence spelled in Windows-1252/Latin-1 characters (such as
/// "cafÃ©") is refused with a <see cref="ClipTokenizerException"/> rather than tokenized differently.
/// </summary>
internal static partial class ClipFtfyNormalizer
{
    internal static string Normalize(string text)
    {
        var fixedText = new StringBuilder(text.Length);
        var unescapeHtml = true;
        var pos = 0;
        // ftfy fixes each line on its own; once a line holds '<' the text is taken for HTML and
        // entities are left alone from that line on.
        while (pos < text.Length)
        {
            var lineEnd = text.IndexOf('\n', pos) + 1;
            if (lineEnd == 0) lineEnd = text.Length;
            var line = text[pos..lineEnd];
            if (line.Contains('<')) unescapeHtml = false;
            fixedText.Append(FixLine(line, unescapeHtml));
            pos = lineEnd;
        }
        return ClipPythonText.Lower(ClipPythonText.Strip(WhitespaceRun().Replace(fixedText.ToString(), " ")));
    }

    private static string FixLine(string text, bool unescapeHtml)
    {
        while (true)
        {
            var original = text;
            if (unescapeHtml) text = HtmlEntity().Replace(text, UnescapeEntity);
            RefuseMojibake(text);
            text = C1Control().Replace(text, m => Windows1252High[m.Value[0] - 0x80].ToString());
            text = Translate(text, Ligature);
            text = Translate(text, FullWidth);
            text = DoubleQuote().Replace(SingleQuote().Replace(text, "'"), "\"");
            text = text.Replace("\r\n", "\n").Replace('\r', '\n').Replace('\u2028', '\n')
                .Replace('\u2029', '\n').Replace('\u0085', '\n');
            text = ReplaceLoneSurrogates(text);
            text = TerminalEscape().Replace(text, "");
            text = Translate(text, c => IsRemovedControl(c) ? "" : null);
            text = text.Normalize(NormalizationForm.FormC);
            if (text == original) return text;
        }
    }

    // Python's re \s (str.isspace) for whitespace_clean; .NET's \s lacks U+001C..U+001F.
    [GeneratedRegex(@"[\s\x1C-\x1F]+")]
    private static partial Regex WhitespaceRun();

    [GeneratedRegex("&#?[0-9A-Za-z]{1,24};")]
    private static partial Regex HtmlEntity();

    [GeneratedRegex("[\u0080-\u009F]")]
    private static partial Regex C1Control();

    [GeneratedRegex("[\u02BC\u2018-\u201B]")]
    private static partial Regex SingleQuote();

    [GeneratedRegex("[\u201C-\u201F]")]
    private static partial Regex DoubleQuote();

    [GeneratedRegex(@"\x1B\[((?:\d|;)*)([a-zA-Z])")]
    private static partial Regex TerminalEscape();

    private static string UnescapeEntity(Match m)
    {
        var entity = m.Value;
        if (ClipFtfyHtmlEntities.ByReference.TryGetValue(entity, out var named)) return named;
        if (!entity.StartsWith("&#", StringComparison.Ordinal)) return entity;
        // Python's html.unescape; ftfy keeps the reference when that leaves a ';' behind.
        var body = entity[2..^1];
        BigInteger number;
        if (body.Length > 1 && body[0] is 'x' or 'X' && body[1..].All(char.IsAsciiHexDigit))
            number = BigInteger.Parse("0" + body[1..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        else if (body.All(char.IsAsciiDigit))
            number = BigInteger.Parse(body, CultureInfo.InvariantCulture);
        else
            return entity;
        var decoded = DecodeCharacterReference(number);
        return decoded.Contains(';') ? entity : decoded;
    }

    private static string DecodeCharacterReference(BigInteger number)
    {
        if (number == 0) return "\uFFFD";
        if (number == 0x0D) return "\r";
        if (number >= 0x80 && number <= 0x9F) return Windows1252High[(int)number - 0x80].ToString();
        if ((number >= 0xD800 && number <= 0xDFFF) || number > 0x10FFFF) return "\uFFFD";
        var cp = (int)number;
        var invalid = cp is >= 0x1 and <= 0x8 or 0xB or >= 0xE and <= 0x1F or 0x7F or >= 0xFDD0 and <= 0xFDEF
                      || (cp & 0xFFFE) == 0xFFFE;
        return invalid ? "" : char.ConvertFromUtf32(cp);
    }

    // Bytes 0x80..0x9F in "sloppy" Windows-1252: the five undefined bytes stay Latin-1.
    private static readonly char[] Windows1252High =
    [
        '\u20AC', '\u0081', '\u201A', '\u0192', '\u201E', '\u2026', '\u2020', '\u2021',
        '\u02C6', '\u2030', '\u0160', '\u2039', '\u0152', '\u008D', '\u017D', '\u008F',
        '\u0090', '\u2018', '\u2019', '\u201C', '\u201D', '\u2022', '\u2013', '\u2014',
        '\u02DC', '\u2122', '\u0161', '\u203A', '\u0153', '\u009D', '\u017E', '\u0178',
    ];

    private static string? Ligature(char c) => c switch
    {
        'Ĳ' => "IJ", 'ĳ' => "ij", 'ŉ' => "ʼn",
        'Ǳ' => "DZ", 'ǲ' => "Dz", 'ǳ' => "dz", 'Ǆ' => "DŽ", 'ǅ' => "Dž", 'ǆ' => "dž",
        'Ǉ' => "LJ", 'ǈ' => "Lj", 'ǉ' => "lj", 'Ǌ' => "NJ", 'ǋ' => "Nj", 'ǌ' => "nj",
        'ﬀ' => "ff", 'ﬁ' => "fi", 'ﬂ' => "fl", 'ﬃ' => "ffi", 'ﬄ' => "ffl", 'ﬅ' => "ſt", 'ﬆ' => "st",
        _ => null,
    };

    // U+3000 and the Halfwidth and Fullwidth Forms block, each to its NFKC form where that differs.
    private static string? FullWidth(char c)
    {
        if (c == '\u3000') return " ";
        if (c is < '\uFF01' or > '\uFFEF') return null;
        var nfkc = c.ToString().Normalize(NormalizationForm.FormKC);
        return nfkc == c.ToString() ? null : nfkc;
    }

    // ASCII controls other than \t \n \f \r, DEL, deprecated Arabic format characters, the byte order
    // mark and the interlinear annotation / object replacement characters.
    private static bool IsRemovedControl(char c) =>
        c is <= '\u0008' or '\u000B' or >= '\u000E' and <= '\u001F' or '\u007F'
            or >= '\u206A' and <= '\u206F' or '\uFEFF' or >= '\uFFF9' and <= '\uFFFC';

    private static string Translate(string text, Func<char, string?> map)
    {
        StringBuilder? sb = null;
        for (var i = 0; i < text.Length; i++)
        {
            var replacement = map(text[i]);
            if (replacement is null)
            {
                sb?.Append(text[i]);
                continue;
            }
            sb ??= new StringBuilder(text, 0, i, text.Length);
            sb.Append(replacement);
        }
        return sb?.ToString() ?? text;
    }

    private static string ReplaceLoneSurrogates(string text)
    {
        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) i++;
            else if (char.IsSurrogate(chars[i])) chars[i] = '\uFFFD';
        }
        return new string(chars);
    }

    private static void RefuseMojibake(string text)
    {
        var bytes = new List<int>(text.Length);
        foreach (var c in text) bytes.Add(Windows1252Byte(c));
        for (var i = 0; i < bytes.Count; i++)
        {
            var length = Utf8SequenceLength(bytes, i);
            if (length > 1)
                throw new ClipTokenizerException(
                    $"text \"{text}\" holds \"{text.Substring(i, length)}\", which reads as UTF-8 mis-decoded as " +
                    "Windows-1252 (mojibake). ftfy would repair it; ClipTextNormalization.Ftfy does not reproduce that " +
                    "repair. Fix the text, or use ClipTextNormalization.BasicTokenizer.");
        }
    }

    // The byte a character stands for in sloppy Windows-1252 / Latin-1, or -1 when it has none.
    private static int Windows1252Byte(char c)
    {
        if (c <= '\u00FF') return c;
        var high = Array.IndexOf(Windows1252High, c);
        return high < 0 ? -1 : 0x80 + high;
    }

    // Length of a well-formed multi-byte UTF-8 sequence starting at i, or 0.
    private static int Utf8SequenceLength(List<int> bytes, int i)
    {
        var lead = bytes[i];
        var (length, secondLow, secondHigh) = lead switch
        {
            >= 0xC2 and <= 0xDF => (2, 0x80, 0xBF),
            0xE0 => (3, 0xA0, 0xBF),
            >= 0xE1 and <= 0xEF => (3, 0x80, 0xBF),
            0xF0 => (4, 0x90, 0xBF),
            >= 0xF1 and <= 0xF3 => (4, 0x80, 0xBF),
            0xF4 => (4, 0x80, 0x8F),
            _ => (0, 0, 0),
        };
        if (length == 0 || i + length > bytes.Count) return 0;
        if (bytes[i + 1] < secondLow || bytes[i + 1] > secondHigh) return 0;
        for (var k = 2; k < length; k++)
            if (bytes[i + k] is < 0x80 or > 0xBF) return 0;
        return length;
    }
}
