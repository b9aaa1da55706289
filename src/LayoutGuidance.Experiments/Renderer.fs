namespace LayoutGuidance.Experiments

open System

/// 8-bit RGB pixels, row-major, 3 bytes per pixel, top row first.
type RgbImage =
    { Width: int
      Height: int
      Pixels: byte[] }

/// What rendering one cell produced.
type CellResult =
    { Image: RgbImage
      /// Named scalar metrics, each becoming a metrics.csv column. Suggested names: final_energy,
      /// in_box_ratio.<phrase index>, in_box_ratio.mean, guidance_iterations, layout_accuracy, gpu_peak_mb.
      Metrics: (string * float) list
      /// Named per-step series (e.g. "loss"): saved under traces/, summarised in metrics.csv as
      /// <name>.first / .last / .min / .count and plotted against the step.
      Traces: (string * float[]) list
      /// Per-phrase attention maps (any resolution, any non-negative scale), drawn under heatmaps/.
      Heatmaps: (string * float32[,]) list }

/// Where a loaded model came from, for the manifest.
type ModelInfo =
    { Model: string
      /// Absolute folder the weights were read from ("embedded" for the toy model).
      Folder: string
      /// Weight file (relative to Folder) → SHA-256 hex.
      WeightHashes: (string * string) list
      /// Anything else worth recording (pipeline class, scheduler config, ...).
      Details: (string * string) list }

/// Run-wide settings the renderer needs to load and run a model.
type RunSettings =
    { /// Folder holding the named models as sub-folders (sd15/, sdxl/, ...).
      ModelsRoot: string option
      /// "cpu", "cuda" or "cuda:N".
      Device: string
      /// "fp32", "fp16" or "bf16".
      Dtype: string
      /// Whether to compute per-phrase attention heatmaps.
      Heatmaps: bool }

/// A loaded model, rendering cells until disposed.
type ICellRenderer =
    inherit IDisposable
    abstract Info: ModelInfo
    abstract Render: Cell -> CellResult

/// Loads a model once for all the cells that use it; the runner disposes it before the next model.
type IRenderer =
    /// Called with every cell of the run before anything is written or rendered: throws (an
    /// ExperimentException) on what would fail later, such as a model that is not downloaded, so a
    /// long grid does not stop at its first cell of that model hours in.
    abstract Check: RunSettings * Cell list -> unit
    abstract Load: RunSettings * Model -> ICellRenderer
