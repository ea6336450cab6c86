import Synchronization
import TrellisDrivers
import TrellisLogging

/// Where the `process` and `exec` drivers send captured output lines on this agent.
///
/// For now it counts the lines and logs each at debug level. Shipping them to the
/// coordinator's log store (LogService) is not built yet; this sink is where it will go.
final class CountingOutputSink: OutputSink {
    private let logger: Logger
    /// Lines received since the agent started.
    private let count = Atomic<Int>(0)

    init(logger: Logger) {
        self.logger = logger
    }

    /// Lines received so far.
    var lineCount: Int { count.load(ordering: .relaxed) }

    func write(_ line: OutputLine) {
        count.add(1, ordering: .relaxed)
        logger.debug(
            "output line",
            [
                "env.name": line.environment, "resource.name": line.resource, "stream": line.stream.rawValue,
                "text": line.text,
            ])
    }
}
