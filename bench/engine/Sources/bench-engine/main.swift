import Foundation

// The engine benchmark; README.md says what each figure is. Progress goes to stderr, the
// table to stdout.

func progress(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

do {
    let options = try Options(arguments: Array(CommandLine.arguments.dropFirst()))
    let report = Report(outputPath: options.outputPath)
    let suites = Suites(options: options, report: report)
    report.record(Machine.meta(options))
    if options.suites.contains("plan") {
        progress("planning in process ...")
        try await suites.plan()
    }
    if options.suites.contains("noop") {
        progress("applying \(Format.count(options.applyResources)) noop resources through trellisd ...")
        try await suites.noop()
    }
    if options.suites.contains("delay") {
        progress("applying 1,000 resources with 20 ms delays through trellisd ...")
        try await suites.delays()
    }
    print("")
    print(report.table())
} catch {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    exit(1)
}
