import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A destination for log lines.
///
/// Sinks are called from any thread and must serialise their own writes.
public protocol LogSink: Sendable {
    /// Lines below this level are dropped before they are formatted.
    var minimumLevel: Logger.Level { get }
    /// Writes one line.
    func write(_ record: LogRecord)
}

/// The line formats a ``FileDescriptorLogSink`` can write.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `time=… level=info logger=rpc msg="listening" address=127.0.0.1:7443`
    case logfmt
    /// One JSON object per line with the same keys.
    case json
}

/// Writes formatted lines to a file descriptor, one `write(2)` per line.
public final class FileDescriptorLogSink: LogSink {
    public let minimumLevel: Logger.Level
    private let format: LogFormat
    private let fileDescriptor: Int32
    /// Serialises writes so lines from different threads never interleave.
    private let writeLock = Mutex(())

    public init(fileDescriptor: Int32, minimumLevel: Logger.Level = .info, format: LogFormat = .logfmt) {
        self.fileDescriptor = fileDescriptor
        self.minimumLevel = minimumLevel
        self.format = format
    }

    public func write(_ record: LogRecord) {
        var line = format == .json ? LineFormatter.json(record) : LineFormatter.logfmt(record)
        line.append("\n")
        writeLock.withLock { _ in
            var utf8 = Array(line.utf8)
            var offset = 0
            while offset < utf8.count {
                let written = utf8.withUnsafeMutableBytes { raw in
                    Glibc.write(fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                }
                // A log line that cannot be written has nowhere else to go.
                if written <= 0 { break }
                offset += written
            }
            utf8.removeAll()
        }
    }
}

extension FileDescriptorLogSink {
    /// Writes one unstructured line (usage text, a fatal error before logging is set up).
    public static func writeLine(_ text: String, to fileDescriptor: Int32) {
        var bytes = Array((text.hasSuffix("\n") ? text : text + "\n").utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes {
                Glibc.write(fileDescriptor, $0.baseAddress! + offset, $0.count - offset)
            }
            if written <= 0 { return }
            offset += written
        }
        bytes.removeAll()
    }
}

/// Process-wide sinks.
public enum LogSinks {
    private static let configured = Mutex<any LogSink>(
        FileDescriptorLogSink(fileDescriptor: 2, minimumLevel: .info)
    )

    /// The sink loggers use unless given another: standard error, logfmt, info and up,
    /// until ``bootstrap(_:)`` replaces it.
    public static var standardError: any LogSink {
        configured.withLock { $0 }
    }

    /// Replaces the process-wide sink; call once at startup, before creating loggers.
    public static func bootstrap(_ sink: any LogSink) {
        configured.withLock { $0 = sink }
    }
}

/// A sink that drops every line.
public struct DiscardingLogSink: LogSink {
    public init() {}
    public var minimumLevel: Logger.Level { .error }
    public func write(_ record: LogRecord) {}
}
