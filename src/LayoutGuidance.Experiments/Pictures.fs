/// Pixel work for outputs: PNG files, boxes, heatmaps and text, drawn directly on ImageSharp pixels.
[<RequireQualifiedAccess>]
module LayoutGuidance.Experiments.Pictures

open System
open System.IO
open SixLabors.ImageSharp
open SixLabors.ImageSharp.PixelFormats
open SixLabors.ImageSharp.Processing
open SkiaSharp

let private check (img: RgbImage) =
    if img.Width < 1 || img.Height < 1 || isNull img.Pixels || img.Pixels.Length <> img.Width * img.Height * 3 then
        raise (ArgumentException $"an RgbImage of {img.Width}x{img.Height} needs {img.Width * img.Height * 3} bytes, got {(if isNull img.Pixels then 0 else img.Pixels.Length)}")

let ofRgb (img: RgbImage) =
    check img
    Image.LoadPixelData<Rgb24>(img.Pixels, img.Width, img.Height)

let load (path: string) = Image.Load<Rgb24>(path)

/// Writes next to the target and renames, so an interrupted write never leaves a partial PNG under
/// the final name (resume trusts any image it finds).
let savePng (path: string) (img: Image<'p>) =
    Directory.CreateDirectory(Path.GetDirectoryName path) |> ignore
    let temp = path + ".tmp"
    img.SaveAsPng temp
    File.Move(temp, path, true)

/// Phrase colours, in phrase order (Tableau 10: distinct and readable on photos).
let private palette =
    [| 0x1f77b4; 0xff7f0e; 0x2ca02c; 0xd62728; 0x9467bd; 0x8c564b; 0xe377c2; 0x7f7f7f; 0xbcbd22; 0x17becf |]
    |> Array.map (fun c -> Rgb24(byte (c >>> 16), byte ((c >>> 8) &&& 0xff), byte (c &&& 0xff)))

let phraseColour (index: int) = palette[index % palette.Length]

let private fillRect (img: Image<Rgb24>) x0 y0 x1 y1 (colour: Rgb24) =
    let x0, x1 = max 0 x0, min img.Width x1
    let y0, y1 = max 0 y0, min img.Height y1
    for y in y0 .. y1 - 1 do
        for x in x0 .. x1 - 1 do
            img[x, y] <- colour

/// Outlines every phrase box in its phrase colour.
let drawBoxes (img: Image<Rgb24>) (layout: Layout) (thickness: int) =
    let w, h = float img.Width, float img.Height
    for i, p in List.indexed layout.Phrases do
        let colour = phraseColour i
        for b in p.Boxes do
            let x0, y0 = int (Math.Round(b.X0 * w)), int (Math.Round(b.Y0 * h))
            let x1, y1 = int (Math.Round(b.X1 * w)), int (Math.Round(b.Y1 * h))
            let t = max 1 (min thickness (min (x1 - x0) (y1 - y0) / 2))
            fillRect img x0 y0 x1 (y0 + t) colour
            fillRect img x0 (y1 - t) x1 y1 colour
            fillRect img x0 y0 (x0 + t) y1 colour
            fillRect img (x1 - t) y0 x1 y1 colour

/// The attention map (scaled to its maximum) blended in the phrase colour over a dimmed grey copy
/// of the image, so where the phrase attends reads at a glance.
let heatmap (image: RgbImage) (map: float32[,]) (colour: Rgb24) =
    check image
    let mh, mw = Array2D.length1 map, Array2D.length2 map
    if mh < 1 || mw < 1 then raise (ArgumentException "a heatmap needs at least one value")
    let peak = Seq.cast<float32> map |> Seq.filter (fun v -> not (Single.IsNaN v)) |> Seq.fold max 0.0f
    let scale = if peak > 0.0f then 255.0f / peak else 0.0f
    let grey = Array.init (mw * mh) (fun i -> byte (Math.Clamp(map[i / mw, i % mw] * scale, 0.0f, 255.0f)))
    use intensity = Image.LoadPixelData<L8>(grey, mw, mh)
    intensity.Mutate(fun ctx -> ctx.Resize(image.Width, image.Height, KnownResamplers.Bicubic) |> ignore)
    let mask = Array.zeroCreate<byte> (image.Width * image.Height)
    intensity.CopyPixelDataTo(Span<byte> mask)
    let source = image.Pixels
    let pixels = Array.zeroCreate<byte> source.Length
    for i in 0 .. mask.Length - 1 do
        let g = 0.6f * (0.299f * float32 source[3 * i] + 0.587f * float32 source[3 * i + 1] + 0.114f * float32 source[3 * i + 2])
        let a = float32 mask[i] / 255.0f
        let mix (c: byte) = byte (Math.Clamp(g * (1.0f - a) + float32 c * a, 0.0f, 255.0f))
        pixels[3 * i] <- mix colour.R
        pixels[3 * i + 1] <- mix colour.G
        pixels[3 * i + 2] <- mix colour.B
    Image.LoadPixelData<Rgb24>(pixels, image.Width, image.Height)

/// One line of text in `colour` on a transparent background, cut with "…" to fit `maxWidth` pixels.
let text (s: string) (size: float32) (colour: Rgb24) (maxWidth: int) =
    use font = new SKFont(Fonts.typeface (), size)
    let fits (t: string) = font.MeasureText t <= float32 maxWidth
    let s = (if isNull s then "" else s).Replace('\n', ' ').Replace('\r', ' ')
    let shown =
        if fits s then s
        else
            let mutable n = s.Length
            while n > 0 && not (fits (s.Substring(0, n) + "…")) do n <- n - 1
            s.Substring(0, n) + "…"
    let metrics = font.Metrics
    let w = max 1 (min maxWidth (int (Math.Ceiling(float (font.MeasureText shown))) + 1))
    let h = max 1 (int (Math.Ceiling(float (metrics.Descent - metrics.Ascent))) + 1)
    // White on black, then the red channel becomes alpha: no premultiplied colour to undo.
    use bitmap = new SKBitmap(w, h, SKColorType.Rgba8888, SKAlphaType.Premul)
    use canvas = new SKCanvas(bitmap)
    canvas.Clear SKColors.Black
    use paint = new SKPaint(Color = SKColors.White, IsAntialias = true)
    canvas.DrawText(shown, 0.0f, -metrics.Ascent, SKTextAlign.Left, font, paint)
    canvas.Flush()
    let pixels = Array.init (w * h) (fun i -> Rgba32(colour.R, colour.G, colour.B, bitmap.GetPixel(i % w, i / w).Red))
    Image.LoadPixelData<Rgba32>(pixels, w, h)

/// Draws `src` onto `dst` with its top-left corner at (x, y), blending by alpha.
let paste (dst: Image<Rgb24>) (src: Image<'p>) (x: int) (y: int) =
    dst.Mutate(fun ctx -> ctx.DrawImage(src, Point(x, y), 1.0f) |> ignore)
