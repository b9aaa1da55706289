namespace LayoutGuidance.Experiments

open System
open System.Collections.Generic
open System.IO
open System.Security.Cryptography
open LayoutGuidance.Evaluation
open LayoutGuidance.Guidance
open LayoutGuidance.Native
open LayoutGuidance.Outputs
open LayoutGuidance.Pipelines
open LayoutGuidance.Schedulers
open LayoutGuidance.Weights

/// Scores an image of the toy shapes model with the shape detector against the boxes of its layout.
[<RequireQualifiedAccess>]
module ShapeMetrics =
    let private detector = ShapeDetector()

    /// One requested object per box of each phrase ("red circle" with two boxes asks for two red
    /// circles), named by phrase index, or "phrase.box" when a phrase has several boxes. Throws
    /// ArgumentException when a phrase is not a "colour shape" phrase.
    let requested (layout: LayoutGuidance.Experiments.Layout) =
        [ for i, p in List.indexed layout.Phrases do
            for j, b in List.indexed p.Boxes ->
                let name = if p.Boxes.Length = 1 then string i else $"{i}.{j}"
                name, RequestedObject.Parse(p.Text, LayoutGuidance.Evaluation.Box(b.X0, b.Y0, b.X1, b.Y1)) ]

    /// Per object: found (an object of its colour and shape is in the image), iou with its box,
    /// center_in_box; per image: object_accuracy, color_accuracy, mean_iou, iou_success (IoU ≥ 0.5),
    /// center_success, color_center_success (a detection of the object's colour, any shape, centred
    /// in its box: placement apart from shape quality; per object color_centered),
    /// layout_accuracy (1 when every object is found with its centre in its box),
    /// color_layout_accuracy (1 when every object's colour is centred in its box), relation_accuracy
    /// (pairs whose detected centres keep their boxes' relation; only with two or more objects) and
    /// unrequested_objects.
    let score (layout: LayoutGuidance.Experiments.Layout) (image: RgbImage) =
        let requested = requested layout
        let detections = detector.Detect(ReadOnlySpan<byte>(image.Pixels), image.Width, image.Height)
        let scored = LayoutMetrics.Score(requested |> List.map snd |> Array.ofList, detections)
        let summary = LayoutMetrics.Summarize [ scored ]
        let flag b = if b then 1.0 else 0.0
        [ for (name, _), o in List.zip requested (List.ofSeq scored.Objects) do
            yield $"found.{name}", flag o.Found
            yield $"iou.{name}", o.Iou
            yield $"center_in_box.{name}", flag o.CenterInBox
            yield $"color_centered.{name}", flag o.ColorCentered
          yield "object_accuracy", summary.ObjectAccuracy
          yield "color_accuracy", summary.ColorAccuracy
          yield "mean_iou", summary.MeanIou
          yield "iou_success", summary.IouSuccessRate
          yield "center_success", summary.CenterSuccessRate
          yield "color_center_success", summary.ColorCenterSuccessRate
          yield "layout_accuracy", flag (scored.Objects |> Seq.forall _.CenterInBox)
          yield "color_layout_accuracy", flag (scored.Objects |> Seq.forall _.ColorCentered)
          if summary.Pairs > 0 then yield "relation_accuracy", summary.RelationAccuracy
          yield "unrequested_objects", float scored.Unrequested.Count ]

/// The toy shapes model that ships with the repository under models/toy.
[<RequireQualifiedAccess>]
module ToyModel =
    /// `folder` made absolute when it holds the toy pipeline; else ModelMissingException saying so.
    let folder (folder: string) =
        let full = Path.GetFullPath folder
        if File.Exists(Path.Combine(full, ModelIndex.FileName)) then full
        else
            raise (
                ModelMissingException
                    $"the toy model is missing: {full} holds no {ModelIndex.FileName}. It ships with the repository under models/toy; use a checkout that has it"
            )

/// A model folder's own guidance settings as grid settings.
[<RequireQualifiedAccess>]
module ModelDefaults =
    /// A one-value axis named "defaults" that sets what the folder's layout_guidance.json gives
    /// (guided layers, window, η, iterations, threshold, steps, CFG); settings it does not give keep
    /// the paper's. Put it before the axes that sweep any of them.
    let axis (label: string) (folder: string) =
        if not (File.Exists(Path.Combine(folder, ModelIndex.FileName))) then
            raise (ModelMissingException $"model '{label}': {Path.GetFullPath folder} holds no {ModelIndex.FileName}, so it has no settings to read")
        let d = GuidanceDefaults.Read folder
        let apply (c: Cell) =
            if isNull d then c
            else
                let opt (v: Nullable<'a>) (current: 'a) = if v.HasValue then v.Value else current
                { c with
                    Layers = (if isNull d.GuidedLayers then c.Layers else d.GuidedLayers)
                    Window = (if isNull d.Window then c.Window else (d.Window[0], d.Window[1]))
                    Eta = opt d.LossScale c.Eta
                    MaxIter = opt d.MaxIter c.MaxIter
                    LossThreshold = opt d.LossThreshold c.LossThreshold
                    Steps = opt d.NumInferenceSteps c.Steps
                    CfgScale = opt d.GuidanceScale c.CfgScale }
        Axis.custom "defaults" [ label, apply ]

/// A loaded pipeline rendering cells.
type private PipelineCells(pipe: StableDiffusionPipeline, info: ModelInfo, settings: RunSettings, scoreShapes: bool) =
    /// "all" is every cross-attention layer of this UNet, every transformer block; anything else is a
    /// LayerSelection pattern.
    let selection (layers: string) =
        if layers = "all" then
            let tops = pipe.UNet.CrossAttentionLayers |> Seq.map (fun l -> l.Path.Split('.')[0]) |> Seq.distinct |> Array.ofSeq
            LayerSelection(tops, TransformerBlocks.All)
        else LayerSelection.Parse layers

    let layoutRequest (cell: Cell) =
        let phrases = cell.Layout.Phrases
        // A phrase written twice in the layout means its second occurrence in the prompt.
        let textPhrases =
            phrases
            |> List.mapi (fun i p -> LayoutGuidance.Text.Phrase.Of(p.Text, 1 + (List.take i phrases |> List.filter (fun q -> q.Text = p.Text) |> List.length)))
            |> Array.ofList
        let boxes =
            phrases
            |> List.map (fun p -> p.Boxes |> List.map (fun b -> BoundingBox(b.X0, b.Y0, b.X1, b.Y1)) |> Array.ofList :> IReadOnlyList<_>)
            |> Array.ofList
        let window = StepWindow(fst cell.Window, snd cell.Window)
        let defaults = pipe.DefaultBackwardGuidance
        // Unguided cells still record attention (for heatmaps and in-box ratios) on the model's default layers.
        let unguided (layers: LayerSelection) =
            LayoutRequest(Phrases = textPhrases, Boxes = boxes, Mode = GuidanceMode.None, Backward = BackwardGuidanceOptions(Layers = layers))
        match cell.Guidance with
        | Guidance.None -> unguided defaults.Layers
        // η = 0, no iterations or an empty window leave the latents untouched: the unguided image.
        | Guidance.Backward when cell.Eta = 0.0 || cell.MaxIter = 0 || window.Start = window.End -> unguided (selection cell.Layers)
        | Guidance.Backward ->
            LayoutRequest(
                Phrases = textPhrases,
                Boxes = boxes,
                Mode = GuidanceMode.Backward,
                Backward =
                    BackwardGuidanceOptions(
                        LossScale = cell.Eta,
                        MaxIterations = cell.MaxIter,
                        LossThreshold = cell.LossThreshold,
                        Window = window,
                        Layers = selection cell.Layers,
                        Stopping = defaults.Stopping,
                        OnDivergence = defaults.OnDivergence
                    )
            )
        | Guidance.Forward ->
            LayoutRequest(
                Phrases = textPhrases,
                Boxes = boxes,
                Mode = GuidanceMode.Forward,
                Forward = ForwardGuidanceOptions(Strength = cell.Eta, Window = window, Layers = selection cell.Layers)
            )

    let request (cell: Cell) =
        let size f = match cell.Resolution with Some r -> Nullable(f r) | None -> Nullable()
        GenerationRequest(
            Prompt = cell.Layout.Prompt,
            Steps = Nullable cell.Steps,
            GuidanceScale = Nullable cell.CfgScale,
            Width = size fst,
            Height = size snd,
            Seed = cell.Seed,
            Scheduler = (match cell.Scheduler with "default" | "reference" -> null | name -> name),
            SchedulerConfig = (if cell.Scheduler = "reference" then ReferenceSettings.Scheduler else null),
            Layout = layoutRequest cell
        )

    let render (cell: Cell) =
        use result = pipe.Generate(request cell)
        let pixels, width, height = Png.ToRgb(result.Image)
        let image = { Width = width; Height = height; Pixels = pixels }
        let record = result.Record
        let ratios = record.Phrases |> Seq.map _.InBoxRatio |> List.ofSeq
        let metrics =
            [ if record.FinalEnergy.HasValue then yield "final_energy", record.FinalEnergy.Value
              for i, r in List.indexed ratios -> $"in_box_ratio.{i}", r
              if not ratios.IsEmpty then yield "in_box_ratio.mean", List.average ratios
              yield "guidance_iterations", float (record.Iterations |> Seq.filter _.Applied |> Seq.length)
              yield "layout_warnings", float record.Warnings.Count
              if scoreShapes then yield! ShapeMetrics.score cell.Layout image ]
        { Image = image
          Metrics = metrics
          Traces = if record.Iterations.Count = 0 then [] else [ "loss", record.Iterations |> Seq.map _.Energy |> Array.ofSeq ]
          Heatmaps =
            if not settings.Heatmaps then []
            else
                [ for k, p in Seq.indexed record.Phrases ->
                    cell.Layout.Phrases[k].Text, Array2D.init p.Height p.Width (fun y x -> p.Heatmap[y * p.Width + x]) ] }

    interface ICellRenderer with
        member _.Info = info

        member _.Render cell =
            try render cell
            with
            | :? LayerSelectionException
            | :? GuidanceOptionsException
            | :? LayoutException
            | :? LayoutGuidance.Text.PhraseTokensException
            | :? SchedulerConfigException
            | :? GuidanceDivergedException
            | :? NonFiniteLatentsException
            | :? ArgumentException as e -> raise (RenderException($"cell {Cell.describe cell} on {info.Folder}: {e.Message}", e))

        member _.Dispose() = pipe.Dispose()

/// The renderer of real pipelines: loads each model of the grid once (SD1.5, SD2.1, SDXL by short name
/// under the models root, the toy model from `toyFolder`, any diffusers folder by path) on the run's
/// device and dtype, and maps each cell to one generation. Metrics: final_energy (backward guidance),
/// in_box_ratio.<i> and .mean (attention share inside each phrase's boxes), guidance_iterations,
/// layout_warnings, and for the toy model the shape detector's scores (ShapeMetrics.score); trace
/// "loss" (the energy of every guidance iteration); heatmaps per phrase with --heatmaps.
///
/// Settings: eta is η for backward guidance and the edit strength λ ∈ [0, 1] for forward guidance;
/// scheduler "default" keeps the model's own, "reference" is the original layout-guidance code's LMS
/// set-up, any other name is a scheduler class run on the model's config ("LMSDiscrete", "DDIM", ...);
/// layers "all" is every cross-attention layer.
type PipelineRenderer(toyFolder: string) =
    static let weightComponents = [ "unet"; "vae"; "text_encoder"; "text_encoder_2" ]

    let folderOf (settings: RunSettings) (model: Model) =
        try
            match model with
            | Model.Toy -> ToyModel.folder toyFolder
            | Model.Folder path -> ModelLocation.Resolve(Experiment.expandHome path)
            | named -> ModelLocation.Resolve(named.Name, Option.toObj settings.ModelsRoot)
        with :? ModelNotFoundException as e ->
            raise (ModelMissingException(e.Message, e))

    let dtypeOf (settings: RunSettings) =
        try PipelineOptions.ParseDType settings.Dtype
        with :? ArgumentException as e -> raise (ExperimentException(e.Message, e))

    let hash (file: string) =
        use stream = File.OpenRead file
        Convert.ToHexString(SHA256.HashData stream).ToLowerInvariant()

    let checkCell (cell: Cell) =
        let fail (why: string) = raise (RenderException($"cell {Cell.describe cell}: {why}", null))
        match cell.Scheduler with
        | "default" | "reference" -> ()
        | name ->
            // The exact names Scheduler.FromConfig accepts; the config it is built from is irrelevant here.
            try (Scheduler.FromConfig(ReferenceSettings.Scheduler, name) :> IDisposable).Dispose()
            with :? SchedulerConfigException as e -> fail $"{e.Message}; or \"default\" for the model's own, \"reference\" for the original code's LMS set-up"
        match cell.Guidance with
        | Guidance.Forward when cell.Eta < 0.0 || cell.Eta > 1.0 ->
            fail $"forward guidance reads eta as the edit strength λ, which lies in [0, 1]; got {cell.Eta}"
        | Guidance.Backward when cell.Eta < 0.0 -> fail $"η must be 0 or more, got {cell.Eta}"
        | _ -> ()
        if cell.Model = Model.Toy then
            for p in cell.Layout.Phrases do
                try LayoutGuidance.Toy.ShapeWords.ParsePhrase p.Text |> ignore
                with :? ArgumentException as e -> fail $"the toy model knows only shapes phrases: {e.Message}"

    interface IRenderer with
        member _.Check(settings, cells) =
            dtypeOf settings |> ignore
            try TorchRuntime.Device settings.Device |> ignore
            with :? TorchLoadException as e -> raise (ExperimentException(e.Message, e))
            // Every missing model at once: a grid over three models should not need three attempts.
            let missing =
                [ for model in cells |> List.map _.Model |> List.distinct do
                    try folderOf settings model |> ignore
                    with :? ModelMissingException as e -> yield e ]
            match missing with
            | [] -> ()
            | [ one ] -> raise one
            | many -> raise (ModelMissingException(String.Join("\n", many |> List.map _.Message), many.Head))
            for cell in cells do
                checkCell cell

        member _.Load(settings, model) =
            let folder = folderOf settings model
            let options = PipelineOptions(Device = settings.Device, DType = dtypeOf settings)
            let pipe =
                try StableDiffusionPipeline.Load(folder, options)
                with
                | :? ConfigException
                | :? CheckpointException
                | :? WeightsMismatchException as e -> raise (ModelMissingException($"model '{model.Name}' at {folder} cannot be loaded: {e.Message}", e))
            try
                let weights =
                    [ for c in weightComponents do
                        if pipe.Index.Components.ContainsKey c then
                            use checkpoint = pipe.Index.OpenCheckpoint(c, options.Variant)
                            for f in checkpoint.Files -> Path.GetRelativePath(pipe.Folder, f).Replace('\\', '/'), hash f ]
                let d = pipe.DefaultBackwardGuidance
                let info =
                    { Model = model.Name
                      Folder = pipe.Folder
                      WeightHashes = weights
                      Details =
                        [ "pipeline", pipe.Index.ClassName
                          "diffusers_version", (if isNull pipe.Index.DiffusersVersion then "" else pipe.Index.DiffusersVersion)
                          "scheduler", (if isNull pipe.SchedulerConfig.ClassName then "" else pipe.SchedulerConfig.ClassName)
                          "default_guidance", $"eta={d.LossScale} layers={d.Layers} window={d.Window} max_iter={d.MaxIterations} threshold={d.LossThreshold}" ] }
                new PipelineCells(pipe, info, settings, (model = Model.Toy)) :> ICellRenderer
            with _ ->
                pipe.Dispose()
                reraise ()
