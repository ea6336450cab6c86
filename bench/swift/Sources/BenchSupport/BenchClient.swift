import TrellisAPI
import TrellisLogging
import TrellisRPC
import TrellisTLS

#if canImport(Glibc)
import Glibc
#endif

/// `bench-trellis-client --target 127.0.0.1:P --ca FILE --mode unary|stream|idle [flags]`:
/// the client side of the benchmark contract in bench/README.md. Each mode first
/// connects and completes one Echo call, so handshakes stay outside what is timed, and
/// prints one JSON object on one line. Any failed call exits with status 1.
public enum BenchClient {
    static let program = "bench-trellis-client"

    public static func run(arguments: [String]) async -> Never {
        let flags = BenchFlags(
            program: program, arguments: arguments,
            defaults: [
                "target": "", "ca": "", "mode": "", "payload": "64", "inflight": "1", "seconds": "5",
                "warmup": "1", "size": "64", "count": "100000", "connections": "1000",
                // Where the calling tasks run: on the client's event loop (`loop`), which
                // saves a thread hop each way, or on the global pool (`pool`).
                "tasks": "loop",
            ])
        let target: SocketAddress
        do {
            target = try SocketAddress(parsing: flags.string("target"))
        } catch {
            Bench.fail(program, "--target: \(error)", status: 2)
        }
        let tls = TLSClientConfiguration(serverName: target.host, trustRootsPEM: flags.fileContents("ca"))
        let configuration = RPCClient.Configuration(address: target, tls: tls)
        let mode = flags.string("mode")
        let onLoop: Bool
        switch flags.string("tasks") {
        case "loop": onLoop = true
        case "pool": onLoop = false
        case let other: Bench.fail(program, "--tasks wants loop or pool, got '\(other)'", status: 2)
        }
        do {
            switch mode {
            case "unary":
                try await runUnary(flags, configuration, onLoop: onLoop)
            case "stream":
                try await runStream(flags, configuration, onLoop: onLoop)
            case "idle":
                try await runIdle(flags, configuration)
            default:
                Bench.fail(program, "--mode wants unary, stream or idle, got '\(mode)'", status: 2)
            }
        } catch {
            Bench.fail(program, "\(error)")
        }
        exit(0)
    }

    static let logger = Logger(label: "bench.client", sink: Bench.logSink)

    /// Connects and makes one Echo call, so that the handshake is done before timing.
    static func warmUp(_ client: RPCClient) async throws {
        do {
            try await client.connect(timeout: .seconds(10))
            _ = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest())
        } catch {
            throw BenchError("warm-up Echo failed: \(error)")
        }
    }

    /// Runs `body` with its tasks preferring the client's loop, or on the global pool.
    static func onExecutor<R: Sendable>(
        _ group: EventLoopGroup, _ onLoop: Bool, _ body: () async throws -> R
    ) async throws -> R {
        if onLoop {
            return try await withTaskExecutorPreference(group.loops[0].taskExecutor) { try await body() }
        }
        return try await body()
    }

    // MARK: - Unary

    /// K calls in flight on one connection, each task starting its next call as soon as
    /// the last one answered, until the window ends; then the outstanding calls drain.
    static func runUnary(_ flags: BenchFlags, _ configuration: RPCClient.Configuration, onLoop: Bool) async throws {
        let payload = flags.int("payload")
        let inflight = flags.int("inflight")
        let seconds = flags.double("seconds")
        let warmup = flags.double("warmup")
        guard inflight >= 1, seconds > 0 else { Bench.fail(program, "--inflight and --seconds > 0", status: 2) }

        let group = try EventLoopGroup(loopCount: 1, namePrefix: "client")
        let client = try RPCClient(configuration: configuration, group: group, logger: logger)
        try await warmUp(client)
        let request = EchoV1.EchoRequest(payload: [UInt8](repeating: 0x70, count: payload))

        let begin = ContinuousClock.now
        let windowStart = begin + .nanoseconds(Int64(warmup * 1e9))
        let windowEnd = windowStart + .nanoseconds(Int64(seconds * 1e9))
        let (latencies, total) = try await onExecutor(group, onLoop) {
            try await withThrowingTaskGroup(of: ([Int64], Int).self) { tasks in
                for _ in 0..<inflight {
                    tasks.addTask {
                        var latencies: [Int64] = []
                        latencies.reserveCapacity(1 << 16)
                        var total = 0
                        while true {
                            let started = ContinuousClock.now
                            let response: EchoV1.EchoResponse
                            do {
                                response = try await client.unary(EchoV1.EchoService.echo, request)
                            } catch {
                                throw BenchError("Echo failed: \(error)")
                            }
                            let now = ContinuousClock.now
                            guard response.payload.count == payload else {
                                throw BenchError("Echo answered with the wrong payload size")
                            }
                            total += 1
                            if started >= windowStart && now <= windowEnd {
                                latencies.append(Nanoseconds.of(started.duration(to: now)))
                            }
                            if now >= windowEnd { break }
                        }
                        return (latencies, total)
                    }
                }
                var all: [Int64] = []
                var total = 0
                for try await (latencies, count) in tasks {
                    all.append(contentsOf: latencies)
                    total += count
                }
                return (all, total)
            }
        }
        await client.close()

        // Calls are measured when they both start and end inside the window, so the
        // rate is taken over the window's length, as the gRPC peer does.
        let sorted = latencies.sorted()
        let fields: [(String, JSONValue)] = [
            ("impl", .string("trellis")), ("bench", .string("unary")), ("payload", .int(payload)),
            ("inflight", .int(inflight)), ("seconds", .fixed(seconds, 3)), ("calls", .int(sorted.count)),
            ("calls_total", .int(total)), ("qps", .fixed(Double(sorted.count) / seconds, 1)),
            ("p50_us", .fixed(percentileMicros(sorted, 0.50), 1)),
            ("p90_us", .fixed(percentileMicros(sorted, 0.90), 1)),
            ("p99_us", .fixed(percentileMicros(sorted, 0.99), 1)),
            ("p999_us", .fixed(percentileMicros(sorted, 0.999), 1)),
            ("max_us", .fixed(percentileMicros(sorted, 1.0), 1)),
        ]
        Bench.printLine(JSONValue.object(fields))
    }

    /// The nearest-rank percentile of sorted nanoseconds, in microseconds.
    static func percentileMicros(_ sorted: [Int64], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let rank = min(max(Int((p * Double(sorted.count)).rounded(.up)), 1), sorted.count)
        return Double(sorted[rank - 1]) / 1000
    }

    // MARK: - Stream

    /// One Expand call read to its status; the clock runs from starting the call.
    static func runStream(_ flags: BenchFlags, _ configuration: RPCClient.Configuration, onLoop: Bool) async throws {
        let size = flags.int("size")
        let count = flags.int("count")
        let group = try EventLoopGroup(loopCount: 1, namePrefix: "client")
        let client = try RPCClient(configuration: configuration, group: group, logger: logger)
        try await warmUp(client)
        let request = EchoV1.EchoRequest(count: UInt32(clamping: count), responseSize: UInt32(clamping: size))

        let begin = ContinuousClock.now
        let (received, bytes) = try await onExecutor(group, onLoop) {
            do {
                return try await client.serverStreaming(EchoV1.EchoService.expand, request) { responses in
                    var received = 0
                    var bytes = 0
                    for try await response in responses {
                        received += 1
                        bytes += response.payload.count
                    }
                    return (received, bytes)
                }
            } catch {
                throw BenchError("Expand failed: \(error)")
            }
        }
        let elapsed = Nanoseconds.seconds(begin.duration(to: .now))
        guard received == count, bytes == count * size else {
            throw BenchError("Expand answered \(received) of \(count) messages")
        }
        await client.close()
        let fields: [(String, JSONValue)] = [
            ("impl", .string("trellis")), ("bench", .string("stream")), ("size", .int(size)),
            ("count", .int(count)), ("seconds", .fixed(elapsed, 3)), ("calls_total", .int(2)),
            ("msgs_per_s", .fixed(Double(count) / elapsed, 1)),
            ("mb_per_s", .fixed(Double(bytes) / elapsed / 1e6, 2)),
        ]
        Bench.printLine(JSONValue.object(fields))
    }

    // MARK: - Idle

    /// C clients, each with its own connection on one shared loop group, each warmed by
    /// one Echo call (at most 64 being set up at a time), then held open and idle until
    /// standard input reaches end of file.
    static func runIdle(_ flags: BenchFlags, _ configuration: RPCClient.Configuration) async throws {
        let connections = flags.int("connections")
        let concurrentSetups = 64
        let group = try EventLoopGroup(loopCount: 1, namePrefix: "client")

        let begin = ContinuousClock.now
        let clients = try await withThrowingTaskGroup(of: RPCClient.self) { tasks in
            var clients: [RPCClient] = []
            clients.reserveCapacity(connections)
            var started = 0
            func startSetup() {
                started += 1
                tasks.addTask {
                    let client = try RPCClient(configuration: configuration, group: group, logger: logger)
                    do {
                        _ = try await client.unary(
                            EchoV1.EchoService.echo, EchoV1.EchoRequest(),
                            options: CallOptions(timeout: .seconds(30), waitForReady: true))
                    } catch {
                        throw BenchError("connection setup failed: \(error)")
                    }
                    return client
                }
            }
            while started < min(connections, concurrentSetups) { startSetup() }
            for try await client in tasks {
                clients.append(client)
                if started < connections { startSetup() }
            }
            return clients
        }
        let connectSeconds = Nanoseconds.seconds(begin.duration(to: .now))

        Bench.printLine("connected n=\(connections)")
        // Blocking this pool thread is harmless: the connections live on the loop's thread.
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(0, &buffer, buffer.count) > 0 {}

        let fields: [(String, JSONValue)] = [
            ("impl", .string("trellis")), ("bench", .string("idle")), ("connections", .int(connections)),
            ("connect_seconds", .fixed(connectSeconds, 3)), ("calls_total", .int(clients.count)),
        ]
        Bench.printLine(JSONValue.object(fields))
        // Closing thousands of connections one by one measures nothing; the server sees
        // them close when the process ends.
        _exit(0)
    }
}

/// A failure that ends the run with a message.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum Nanoseconds {
    static func of(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(of(duration)) / 1e9
    }
}

/// The few JSON values the result lines hold, written in a fixed field order.
enum JSONValue {
    case string(String)
    case int(Int)
    /// A number with this many digits after the point.
    case fixed(Double, Int)

    var text: String {
        switch self {
        case .string(let value): "\"\(value)\""
        case .int(let value): "\(value)"
        case .fixed(let value, let digits): Self.format(value, digits: digits)
        }
    }

    static func object(_ fields: [(String, JSONValue)]) -> String {
        "{" + fields.map { "\"\($0.0)\":\($0.1.text)" }.joined(separator: ",") + "}"
    }

    static func format(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "0" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((abs(value) * scale).rounded())
        let divisor = Int64(scale)
        let whole = scaled / divisor
        let fraction = scaled % divisor
        var text = (value < 0 && scaled != 0 ? "-" : "") + "\(whole)"
        if digits > 0 {
            let digitsText = "\(fraction)"
            text += "." + String(repeating: "0", count: digits - digitsText.count) + digitsText
        }
        return text
    }
}
