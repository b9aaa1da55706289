/// The one font file captions and plots use. SkiaSharp's default typeface can be empty on Linux (no
/// fontconfig match), which silently draws no text, so the font is always loaded from a file.
[<RequireQualifiedAccess>]
module LayoutGuidance.Experiments.Fonts

open System
open System.IO
open SkiaSharp

let private defaultPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

/// The family name plots ask ScottPlot for.
let family = "LayoutGuidance Sans"

/// LAYOUTGUIDANCE_FONT if set, else DejaVu Sans from Debian's fonts-dejavu-core.
let path () =
    match Environment.GetEnvironmentVariable "LAYOUTGUIDANCE_FONT" with
    | null | "" -> defaultPath
    | p -> p

/// Reads a font file; throws MissingFontException saying what to install when it is absent.
let loadFrom (path: string) =
    if not (File.Exists path) then
        raise (
            MissingFontException(
                $"font file {path} is missing; gallery captions and plots need it. Install it with `apt-get install -y fonts-dejavu-core` "
                + "or point LAYOUTGUIDANCE_FONT at any .ttf file."
            )
        )
    match SKTypeface.FromFile path with
    | null -> raise (MissingFontException $"font file {path} could not be read as a font; point LAYOUTGUIDANCE_FONT at a .ttf file")
    | typeface -> typeface

let private load =
    lazy
        (let p = path ()
         let typeface = loadFrom p
         ScottPlot.Fonts.AddFontFile(family, p, false, false)
         ScottPlot.Fonts.AddFontFile(family, p, true, false)
         ScottPlot.Fonts.Default <- family
         typeface)

/// The font captions and plots use, loaded once and registered with ScottPlot.
let typeface () = load.Force()
