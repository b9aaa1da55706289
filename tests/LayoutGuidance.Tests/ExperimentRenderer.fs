/// A small real renderer for exercising the experiment runner: it paints each phrase's boxes on a
/// background chosen by the seed and derives its metrics from the settings, so every output is a pure
/// function of the cell (sharded and unsharded runs must agree byte for byte).
module LayoutGuidance.Tests.ExperimentRenderer

open System
open System.Threading
open LayoutGuidance.Experiments

let private palette = [| (230uy, 60uy, 40uy); (40uy, 120uy, 230uy); (50uy, 180uy, 70uy); (200uy, 160uy, 30uy) |]

let private paint (cell: Cell) =
    let w, h = cell.Resolution |> Option.defaultValue (32, 24)
    let pixels = Array.zeroCreate<byte> (w * h * 3)
    let bg = byte (37L * cell.Seed % 200L + 20L)
    for i in 0 .. w * h - 1 do
        pixels[3 * i] <- bg
        pixels[3 * i + 1] <- byte (255 - int bg)
        pixels[3 * i + 2] <- 90uy
    // Without guidance the objects land off their boxes: shifted right by a quarter of the width.
    let shift = match cell.Guidance with Guidance.None -> 0.25 | _ -> 0.0
    for pi, p in List.indexed cell.Layout.Phrases do
        let r, g, b = palette[pi % palette.Length]
        for box in p.Boxes do
            let x0 = int ((min 1.0 (box.X0 + shift)) * float w)
            let x1 = int ((min 1.0 (box.X1 + shift)) * float w)
            for y in int (box.Y0 * float h) .. int (box.Y1 * float h) - 1 do
                for x in x0 .. x1 - 1 do
                    let i = 3 * (y * w + x)
                    pixels[i] <- r
                    pixels[i + 1] <- g
                    pixels[i + 2] <- b
    { Width = w; Height = h; Pixels = pixels }

let private result (settings: RunSettings) (penalty: float) (cell: Cell) =
    let strength = match cell.Guidance with Guidance.None -> 0.0 | _ -> cell.Eta / (cell.Eta + 10.0)
    let ratios = cell.Layout.Phrases |> List.mapi (fun i _ -> Math.Round(0.3 + 0.6 * strength - 0.02 * float i - penalty, 6))
    let energy = Math.Round((1.0 - strength) * (1.0 + 0.01 * float (cell.Seed % 7L)), 6)
    let iterations = match cell.Guidance with Guidance.Backward -> cell.MaxIter * (snd cell.Window - fst cell.Window) | _ -> 0
    let guided = snd cell.Window - fst cell.Window
    { Image = paint cell
      Metrics =
        [ "final_energy", energy
          yield! ratios |> List.mapi (fun i r -> $"in_box_ratio.{i}", r)
          "in_box_ratio.mean", List.average ratios
          "guidance_iterations", float iterations ]
      Traces = if guided > 0 && cell.Guidance = Guidance.Backward then [ "loss", Array.init guided (fun k -> energy * 0.8 ** float k) ] else []
      Heatmaps =
        if not settings.Heatmaps then []
        else
            [ for p in cell.Layout.Phrases ->
                p.Text,
                Array2D.init 8 8 (fun y x ->
                    let inside = p.Boxes |> List.exists (fun b -> float x / 8.0 >= b.X0 && float x / 8.0 < b.X1 && float y / 8.0 >= b.Y0 && float y / 8.0 < b.Y1)
                    if inside then 1.0f else 0.1f) ] }

/// Counts loads and renders; `penalty` lowers every in-box ratio (a planted quality drop); `failAt`
/// throws on the n-th render (a crash mid-run); `gate` holds the first render until it is set.
type RectRenderer(?penalty: float, ?failAt: int, ?gate: ManualResetEventSlim) =
    let penalty = defaultArg penalty 0.0
    let mutable loads = 0
    let mutable disposed = 0
    let rendered = ResizeArray<string>()
    let started = new ManualResetEventSlim(false)

    member _.Loads = loads
    member _.Disposed = disposed
    member _.Rendered = List.ofSeq rendered
    /// Set when the first render begins.
    member _.Started = started

    interface IRenderer with
        member _.Check(_, _) = ()
        member _.Load(settings, model) =
            loads <- loads + 1
            { new ICellRenderer with
                member _.Info =
                    { Model = model.Name
                      Folder = $"/models/{model.Name}"
                      WeightHashes = [ "unet/diffusion_pytorch_model.safetensors", String('a', 64) ]
                      Details = [ "renderer", "rectangles" ] }
                member _.Render cell =
                    started.Set()
                    gate |> Option.iter (fun g -> g.Wait(TimeSpan.FromSeconds 30.0) |> ignore)
                    if failAt = Some(rendered.Count + 1) then failwith $"planted failure at render {rendered.Count + 1}"
                    rendered.Add cell.Id
                    result settings penalty cell
                member _.Dispose() = disposed <- disposed + 1 }

/// The exception of type 'e that `f` throws; fails the test when it throws nothing or another type.
let caught<'e when 'e :> exn> (f: unit -> unit) : 'e =
    try
        f ()
        failwith $"expected {typeof<'e>.Name}, but nothing was thrown"
    with
    | :? 'e as e -> e
