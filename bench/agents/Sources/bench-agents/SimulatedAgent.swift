import Synchronization
import TrellisAPI
import TrellisRPC
import TrellisWire

#if canImport(Glibc)
import Glibc
#endif

/// One simulated agent: its own client (certificate, connection), one Connect stream at
/// a time, as a Trellis agent keeps it.
///
/// A session sends the hello, waits for the welcome, then sends a heartbeat every
/// `heartbeat_interval_ms` of the welcome and reads (and ignores) whatever the
/// coordinator sends, until the stream or the connection ends. Then the agent waits a
/// ``ReconnectDelays`` delay and starts again, until its task is cancelled.
struct SimulatedAgent: Sendable {
    /// A session that sees no welcome this long after it starts is abandoned.
    static let welcomeTimeout: Duration = .seconds(30)

    let index: Int
    let client: RPCClient
    let fleet: Fleet

    var hello: TrellisV1.AgentMessage {
        TrellisV1.AgentMessage(
            body: .hello(
                TrellisV1.AgentHello(
                    name: Identities.name(index), labels: ["bench": "1"], capacity: 1, drivers: ["file"],
                    version: "bench", hostname: "bench")))
    }

    /// Connects and reconnects until cancelled.
    func run() async {
        var delays = ReconnectDelays()
        while !Task.isCancelled {
            fleet.attemptStarted(index)
            let started = ContinuousClock.now
            let welcomed = Flag()
            let reason = await session(started: started, welcomed: welcomed)
            if Task.isCancelled { break }
            if welcomed.isSet {
                fleet.streamEnded()
                if ContinuousClock.now - started >= ReconnectDelays.resetAfter { delays.reset() }
            } else {
                fleet.attemptFailed(index, reason)
            }
            try? await Task.sleep(for: delays.next())
        }
    }

    /// One Connect call to its end, abandoned without a welcome within
    /// ``welcomeTimeout``; returns why it ended.
    private func session(started: ContinuousClock.Instant, welcomed: Flag) async -> String {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await Task.sleep(for: Self.welcomeTimeout)
                    if !welcomed.isSet { throw BenchError("no welcome within \(Self.welcomeTimeout)") }
                    // Welcomed: wait with the stream, to be cancelled when it ends.
                    try await Task.sleep(for: .seconds(86_400 * 365))
                }
                group.addTask { try await serve(started: started, welcomed: welcomed) }
                defer { group.cancelAll() }
                try await group.next()
            }
            return "the coordinator ended the stream"
        } catch let error as RPCError {
            return "\(error.code): \(error.message)"
        } catch {
            return "\(error)"
        }
    }

    /// The Connect call: hello, welcome, then heartbeats out and messages in.
    private func serve(started: ContinuousClock.Instant, welcomed: Flag) async throws {
        try await client.bidirectional(TrellisV1.AgentService.connect) { writer, responses in
            try await writer.write(hello)
            var iterator = responses.makeAsyncIterator()
            guard let first = try await iterator.next() else {
                throw BenchError("the coordinator ended the stream before its welcome")
            }
            guard case .welcome(let welcome) = first.body else {
                throw BenchError("the coordinator's first message is not a welcome")
            }
            welcomed.set()
            fleet.welcomed(index, milliseconds: Double((ContinuousClock.now - started).nanoseconds) / 1e6)

            let interval = Duration.milliseconds(Int64(max(welcome.heartbeatIntervalMs, 100)))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    while true {
                        try await Task.sleep(for: interval)
                        try await writer.write(
                            TrellisV1.AgentMessage(
                                body: .heartbeat(TrellisV1.Heartbeat(timeUnixMs: Self.unixMilliseconds()))))
                    }
                }
                defer { group.cancelAll() }
                // Reading stays in this task, which the call's cancellation reaches.
                while try await iterator.next() != nil {}
            }
        }
    }

    static func unixMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }
}

/// Whether a session was welcomed; set once, read from the session's other tasks.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)

    var isSet: Bool { value.load(ordering: .acquiring) }

    func set() { value.store(true, ordering: .releasing) }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
