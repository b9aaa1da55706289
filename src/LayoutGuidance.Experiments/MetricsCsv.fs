namespace LayoutGuidance.Experiments

open System
open System.Globalization
open System.IO
open System.Security.Cryptography
open System.Text
open CsvHelper
open CsvHelper.Configuration

/// metrics.csv in memory: column order, and one row per image as column → value (empty = absent).
type MetricsTable =
    { Columns: string list
      Rows: Map<string, string> list }

/// metrics.csv on disk. Every row carries a checksum of its own values, so a row torn by a kill (or
/// damaged later) is recognised and dropped instead of being read as a result.
[<RequireQualifiedAccess>]
module MetricsCsv =
    let empty = { Columns = []; Rows = [] }

    /// A row's value of `column` as a number; None when it is absent, not a number, or NaN (nothing
    /// to score), so means skip it.
    let number (row: Map<string, string>) (column: string) =
        row.TryFind column |> Option.bind Invariant.tryFloat |> Option.filter (Double.IsNaN >> not)

    let private utf8 = UTF8Encoding(false)

    let private config () =
        CsvConfiguration(
            CultureInfo.InvariantCulture,
            NewLine = "\n",
            BadDataFound = null,
            MissingFieldFound = null,
            DetectColumnCountChanges = false
        )

    /// Over the non-empty values sorted by column name, so it survives added columns and reordering.
    let checksum (row: Map<string, string>) =
        let sb = StringBuilder()
        for KeyValue(k, v) in row do
            if k <> Columns.checksum && not (String.IsNullOrEmpty v) then
                sb.Append(k).Append('\u001f').Append(v).Append('\u001e') |> ignore
        Convert.ToHexString(SHA256.HashData(utf8.GetBytes(sb.ToString())), 0, 8).ToLowerInvariant()

    let private withChecksum (row: Map<string, string>) = row.Add(Columns.checksum, checksum row)

    /// Column order with the checksum last and any new columns of `rows` added before it.
    let private ordered (columns: string list) (rows: Map<string, string> seq) =
        let known = columns |> List.filter ((<>) Columns.checksum)
        let seen = Collections.Generic.HashSet<string>(known)
        let added = [ for r in rows do for KeyValue(k, _) in r do if k <> Columns.checksum && seen.Add k then k ]
        known @ added @ [ Columns.checksum ]

    let private format (columns: string list) (rows: Map<string, string> seq) (withHeader: bool) =
        use text = new StringWriter(CultureInfo.InvariantCulture)
        use csv = new CsvWriter(text, config ())
        if withHeader then
            for c in columns do csv.WriteField c
            csv.NextRecord()
        for r in rows do
            for c in columns do csv.WriteField(r.TryFind c |> Option.defaultValue "")
            csv.NextRecord()
        csv.Flush()
        text.ToString()

    /// Reads a metrics file, dropping rows that are torn or fail their checksum; returns the table and
    /// how many rows were dropped. A missing file is an empty table.
    let read (path: string) =
        if not (File.Exists path) then empty, 0
        else
            use reader = new StreamReader(path, utf8)
            use parser = new CsvParser(reader, config ())
            if not (parser.Read()) then empty, 0
            else
                let header = parser.Record
                if not (Array.contains Columns.cellId header && Array.contains Columns.checksum header) then
                    raise (ResultsException $"{path} is not a metrics file: its header lacks {Columns.cellId} or {Columns.checksum}")
                let rows = ResizeArray()
                let mutable dropped = 0
                let next () =
                    // An unterminated quote at the end of a torn file can make the parser throw.
                    try parser.Read() with :? CsvHelperException -> dropped <- dropped + 1; false
                while next () do
                    let record = parser.Record
                    let row = if record.Length = header.Length then Array.zip header record |> Map.ofArray else Map.empty
                    match row.TryFind Columns.checksum with
                    | Some sum when sum = checksum row && not (String.IsNullOrEmpty row[Columns.cellId]) -> rows.Add row
                    | _ -> dropped <- dropped + 1
                { Columns = List.ofArray header; Rows = List.ofSeq rows }, dropped

    /// Writes the whole table atomically (temp file, then rename), recomputing every checksum.
    let write (path: string) (table: MetricsTable) =
        let rows = table.Rows |> List.map withChecksum
        let columns = ordered table.Columns rows
        let temp = path + ".tmp"
        File.WriteAllText(temp, format columns rows true, utf8)
        File.Move(temp, path, true)
        { Columns = columns; Rows = rows }

/// Appends rows one at a time: each is a single flushed write, so a kill loses at most the row being
/// written, which the checksum then rejects. A row with new columns rewrites the file atomically.
type MetricsWriter(path: string, initial: MetricsTable) =
    let rows = ResizeArray<Map<string, string>>()
    let mutable columns = []

    let rewrite () =
        let written = MetricsCsv.write path { Columns = columns; Rows = List.ofSeq rows }
        columns <- written.Columns
        rows.Clear()
        rows.AddRange written.Rows

    do
        // An empty table leaves no file: a header alone would not name the columns rows will have.
        if initial.Rows.IsEmpty then File.Delete path
        else
            columns <- initial.Columns
            rows.AddRange initial.Rows
            rewrite ()

    member _.Table = { Columns = columns; Rows = List.ofSeq rows }

    member _.Append(values: (string * string) list) =
        let row = Map.ofList values
        let row = row.Add(Columns.checksum, MetricsCsv.checksum row)
        rows.Add row
        if values |> List.forall (fun (k, _) -> List.contains k columns) then
            use text = new StringWriter(CultureInfo.InvariantCulture)
            use csv = new CsvWriter(text, CsvConfiguration(CultureInfo.InvariantCulture, NewLine = "\n"))
            for c in columns do csv.WriteField(row.TryFind c |> Option.defaultValue "")
            csv.NextRecord()
            csv.Flush()
            let bytes = UTF8Encoding(false).GetBytes(text.ToString())
            use file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read)
            file.Write(bytes, 0, bytes.Length)
            file.Flush(true)
        else
            let added = values |> List.map fst |> List.filter (fun k -> not (List.contains k columns))
            columns <- (columns |> List.filter ((<>) Columns.checksum)) @ added
            rewrite ()
