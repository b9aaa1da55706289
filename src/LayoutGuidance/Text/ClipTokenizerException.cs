namespace LayoutGuidance.Text;

/// <summary>A tokenizer folder or a text the CLIP tokenizer cannot use, with what was wrong and the fix.</summary>
public sealed class ClipTokenizerException(string message) : Exception(message);
