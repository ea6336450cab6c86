/// A structured logger: a constant message plus key-value metadata.
///
/// Messages are `StaticString`s so that values can only travel as metadata, which keeps
/// every line parseable and every message greppable. A logger is a cheap value; derive
/// one per component or call with ``with(_:_:)``, which adds metadata to every line.
///
/// ```swift
/// let logger = Logger(label: "rpc").with("peer.address", peer)
/// logger.info("connection accepted", ["tls.version": version])
/// ```
public struct Logger: Sendable {
    /// How important a line is; lines below a sink's minimum are dropped unformatted.
    public enum Level: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
        case trace, debug, info, warning, error

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .trace: "trace"
            case .debug: "debug"
            case .info: "info"
            case .warning: "warning"
            case .error: "error"
            }
        }

        /// Parses `trace`, `debug`, `info`, `warning` (or `warn`) and `error`.
        public init?(name: String) {
            switch name.lowercased() {
            case "trace": self = .trace
            case "debug": self = .debug
            case "info": self = .info
            case "warning", "warn": self = .warning
            case "error": self = .error
            default: return nil
            }
        }
    }

    /// Key-value pairs attached to a line. Keys use dotted lowercase (`env.name`).
    public typealias Metadata = [String: String]

    /// The component that logs, written as `logger=` on every line.
    public let label: String
    /// Metadata added to every line from this logger.
    public private(set) var metadata: Metadata
    /// Where lines go.
    public let sink: any LogSink

    /// Creates a logger writing to `sink`, by default the process-wide sink.
    public init(label: String, metadata: Metadata = [:], sink: any LogSink = LogSinks.standardError) {
        self.label = label
        self.metadata = metadata
        self.sink = sink
    }

    /// A copy of this logger that adds `key=value` to every line.
    public func with(_ key: String, _ value: String) -> Logger {
        var copy = self
        copy.metadata[key] = value
        return copy
    }

    /// A copy of this logger with a different label and the same metadata and sink.
    public func labelled(_ label: String) -> Logger {
        Logger(label: label, metadata: metadata, sink: sink)
    }

    /// Whether a line at `level` would be written.
    @inlinable
    public func isEnabled(_ level: Level) -> Bool { level >= sink.minimumLevel }

    /// Writes one line at `level`; `metadata` is evaluated only if the line is written.
    public func log(_ level: Level, _ message: StaticString, _ metadata: @autoclosure () -> Metadata = [:]) {
        guard isEnabled(level) else { return }
        var merged = self.metadata
        for (key, value) in metadata() { merged[key] = value }
        sink.write(LogRecord(level: level, label: label, message: message.description, metadata: merged))
    }

    public func trace(_ message: StaticString, _ metadata: @autoclosure () -> Metadata = [:]) {
        log(.trace, message, metadata())
    }

    public func debug(_ message: StaticString, _ metadata: @autoclosure () -> Metadata = [:]) {
        log(.debug, message, metadata())
    }

    public func info(_ message: StaticString, _ metadata: @autoclosure () -> Metadata = [:]) {
        log(.info, message, metadata())
    }

    public func warning(_ message: StaticString, _ metadata: @autoclosure () -> Metadata = [:]) {
        log(.warning, message, metadata())
    }

    public func error(_ message: StaticString, _ metadata: @autoclosure () -> Metadata = [:]) {
        log(.error, message, metadata())
    }
}
