namespace LayoutGuidance.Experiments

open System

/// Base of every error this library raises on bad input or a bad results folder; the CLI prints its
/// message and exits non-zero instead of showing a stack trace.
type ExperimentException(message: string, inner: exn) =
    inherit Exception(message, inner)
    new(message: string) = ExperimentException(message, null)

/// A setting, axis, layout or layout file that cannot describe a cell.
type GridException(message: string) =
    inherit ExperimentException(message)

/// Another runner holds the experiment folder.
type ExperimentLockedException(message: string) =
    inherit ExperimentException(message)

/// The font file captions and plots need is absent.
type MissingFontException(message: string) =
    inherit ExperimentException(message)

/// A results folder, metrics file or comparison input that cannot be used as asked.
type ResultsException(message: string) =
    inherit ExperimentException(message)

/// A model the grid names is not where it was looked for, or is incomplete there; the message says
/// where and how to get it.
type ModelMissingException(message: string, inner: exn) =
    inherit ExperimentException(message, inner)
    new(message: string) = ModelMissingException(message, null)

/// A cell the model cannot render as asked: a layer pattern it lacks, a phrase absent from the prompt,
/// a guidance setting out of range, an unknown scheduler.
type RenderException(message: string, inner: exn) =
    inherit ExperimentException(message, inner)
