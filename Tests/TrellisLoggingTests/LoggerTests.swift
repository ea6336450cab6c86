import Testing
import TrellisTestSupport

@testable import TrellisLogging

@Suite("Structured logging")
struct LoggerTests {
    private func record(_ message: String, _ metadata: Logger.Metadata) -> LogRecord {
        LogRecord(
            level: .info, label: "rpc", message: message, metadata: metadata,
            timestampNanoseconds: 1_764_772_666_123_000_000)
    }

    @Test("logfmt lines carry the time, level, logger, message and sorted metadata")
    func logfmtLine() {
        let line = LineFormatter.logfmt(record("listening", ["peer.address": "127.0.0.1:7443", "a": "1"]))
        #expect(
            line
                == "time=2025-12-03T14:37:46.123Z level=info logger=rpc msg=\"listening\" a=1 peer.address=127.0.0.1:7443"
        )
    }

    @Test("logfmt quotes values with spaces, quotes, equals signs and control characters")
    func logfmtQuoting() {
        let line = LineFormatter.logfmt(record("m", ["error": "tls: bad \"cert\"\nnext", "empty": "", "eq": "a=b"]))
        #expect(line.hasSuffix(#"empty="" eq="a=b" error="tls: bad \"cert\"\nnext""#))
    }

    @Test("JSON lines escape what JSON requires")
    func jsonLine() {
        let line = LineFormatter.json(record("m", ["k": "tab\there \u{01}"]))
        #expect(line.contains(#""k":"tab\there \u0001""#))
        #expect(line.hasPrefix(#"{"time":"2025-12-03T14:37:46.123Z","level":"info","logger":"rpc","msg":"m""#))
    }

    @Test("lines below the sink's level are dropped without evaluating their metadata")
    func levelFiltering() {
        let sink = MemoryLogSink(minimumLevel: .info)
        let logger = Logger(label: "test", sink: sink)
        var evaluated = false
        logger.debug(
            "hidden",
            {
                evaluated = true; return [:]
            }())
        logger.warning("shown", ["k": "v"])
        #expect(!evaluated)
        #expect(sink.records.map(\.message) == ["shown"])
    }

    @Test("metadata added with `with` appears on every line and call metadata wins")
    func metadataMerging() {
        let sink = MemoryLogSink()
        let logger = Logger(label: "test", sink: sink).with("request.id", "r1").with("env.name", "a")
        logger.info("one", ["env.name": "b"])
        #expect(sink.records.first?.metadata == ["request.id": "r1", "env.name": "b"])
    }

    @Test("level names parse, including warn")
    func levelNames() {
        #expect(Logger.Level(name: "WARN") == .warning)
        #expect(Logger.Level(name: "debug") == .debug)
        #expect(Logger.Level(name: "loud") == nil)
    }
}
