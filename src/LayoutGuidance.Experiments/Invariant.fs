/// Culture-independent number text: the same bytes on every machine, locale and .NET version, because
/// cell ids and CSV files are compared across all of them.
module LayoutGuidance.Experiments.Invariant

open System
open System.Globalization

/// Shortest round-trip form ("30", "0.2", "1E-05"); negative zero prints as "0" so it hashes like zero.
let float (v: float) =
    let v = if v = 0.0 then 0.0 else v
    v.ToString("R", CultureInfo.InvariantCulture)

let int (v: int) = v.ToString(CultureInfo.InvariantCulture)

let int64 (v: int64) = v.ToString(CultureInfo.InvariantCulture)

let tryFloat (text: string) =
    match Double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture) with
    | true, v -> Some v
    | _ -> None

let tryInt (text: string) =
    match Int32.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) with
    | true, v -> Some v
    | _ -> None
