#if canImport(Glibc)
import Glibc
#endif

// The agents benchmark's load tool; bench/README.md says what it measures and which
// lines it prints. Lines for the harness go to stdout, progress to stderr.

do {
    let options = try Options(arguments: Array(CommandLine.arguments.dropFirst()))
    try await LoadTool.run(options)
} catch {
    Output.progress("\(error)")
    exit(1)
}
