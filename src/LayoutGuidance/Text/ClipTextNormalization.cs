namespace LayoutGuidance.Text;

/// <summary>
/// How prompt text is cleaned before CLIP's BPE, following transformers' <c>CLIPTokenizer</c>, which
/// picks the cleanup by whether the <c>ftfy</c> package is installed.
/// </summary>
public enum ClipTextNormalization
{
    /// <summary>
    /// ftfy not installed, which is what <c>pip install diffusers transformers</c> gives (neither
    /// depends on ftfy): transformers' <c>BasicTokenizer</c> cleanup. Keeps HTML entities, curly quotes
    /// and full-width letters as they are, drops zero-width and other format characters, and spaces
    /// out CJK ideographs.
    /// </summary>
    BasicTokenizer,

    /// <summary>
    /// ftfy installed: <c>whitespace_clean(ftfy.fix_text(text)).lower()</c> with ftfy 6.1's defaults
    /// (HTML entities decoded, curly quotes straightened, full-width letters narrowed, ...). ftfy's
    /// mojibake repair is not reproduced: text that looks like UTF-8 mis-decoded as Windows-1252
    /// (such as "cafÃ©") is refused with a <see cref="ClipTokenizerException"/>.
    /// </summary>
    Ftfy,
}
