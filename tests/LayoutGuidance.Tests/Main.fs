module LayoutGuidance.Tests.Main

open Expecto
open Expecto.Impl

/// Runs every test and ends with the plain `N passed, N failed` line CI reads.
[<EntryPoint>]
let main argv =
    let mutable passed = 0
    let mutable failed = 0
    let mutable ignored = 0
    let count =
        { TestPrinters.defaultPrinter with
            summary = fun config summary ->
                passed <- summary.passed.Length
                failed <- summary.failed.Length + summary.errored.Length
                ignored <- summary.ignored.Length
                TestPrinters.defaultPrinter.summary config summary }
    let rc =
        try runTestsInAssemblyWithCLIArgs [ Printer count; Sequenced; No_Spinner; Colours 0 ] argv
        finally Fixtures.removeScratch ()
    // One write, on a line of its own: Expecto's console logger may still be flushing colour resets.
    let skipped = if ignored > 0 then $", {ignored} skipped" else ""
    stdout.Write($"\n{passed} passed, {failed} failed{skipped}\n")
    stdout.Flush()
    rc
