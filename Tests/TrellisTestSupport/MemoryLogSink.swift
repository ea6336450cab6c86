import Synchronization
import TrellisLogging

/// A sink that keeps every record, for tests that assert on what was logged.
public final class MemoryLogSink: LogSink {
    public let minimumLevel: Logger.Level
    private let stored = Mutex<[LogRecord]>([])

    public init(minimumLevel: Logger.Level = .trace) {
        self.minimumLevel = minimumLevel
    }

    public func write(_ record: LogRecord) {
        stored.withLock { $0.append(record) }
    }

    /// The records written so far, oldest first.
    public var records: [LogRecord] { stored.withLock { $0 } }
}
