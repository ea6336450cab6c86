import Glibc
import TrellisCommandLine
import TrellisCoordinator
import TrellisLogging

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("--help") || arguments.contains("-h") {
    print(CoordinatorOptions.usage)
    exit(0)
}

let options: CoordinatorOptions
do {
    options = try CoordinatorOptions(parsing: arguments)
} catch {
    FileDescriptorLogSink.writeLine("trellisd: \(error)\n\n\(CoordinatorOptions.usage)", to: 2)
    exit(2)
}

LogSinks.bootstrap(FileDescriptorLogSink(fileDescriptor: 2, minimumLevel: options.logLevel, format: options.logFormat))
let coordinator = Coordinator(options: options)
let signals = SignalHandling { _ in coordinator.requestShutdown() }

do {
    try await coordinator.run(localAgent: LocalAgent())
} catch {
    Logger(label: "trellisd").error("failed to start", ["error": "\(error)"])
    exit(1)
}
_ = signals
