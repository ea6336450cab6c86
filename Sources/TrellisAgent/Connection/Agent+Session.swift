import Synchronization
import TrellisAPI
import TrellisDrivers
import TrellisLogging
import TrellisRPC

/// One welcomed Connect stream: where messages go, and what was reported on it.
struct Session {
    /// Counts streams since the agent started, from 1.
    let number: Int
    /// Messages for the stream's single writer.
    let outbox: AsyncStream<TrellisV1.AgentMessage>.Continuation
    let heartbeatInterval: Duration
    /// The condition last reported of each resource on this stream.
    var reported: [ResourceKey: ResourceCondition] = [:]
}

extension Agent {
    /// Used when a welcome leaves an interval at zero.
    static let defaultHeartbeatInterval: Duration = .seconds(10)
    static let defaultObserveInterval: Duration = .seconds(30)

    /// Sends a message on the current stream; without one, drops it (a result stays
    /// kept in the command book, a report is made again on the next stream).
    func send(_ body: TrellisV1.AgentMessage.Body) {
        session?.outbox.yield(TrellisV1.AgentMessage(body: body))
    }

    func makeHello() -> TrellisV1.AgentHello {
        TrellisV1.AgentHello(
            name: configuration.name,
            labels: configuration.labels,
            capacity: UInt32(clamping: configuration.capacity),
            drivers: registry.names,
            version: configuration.version,
            hostname: configuration.hostname,
            runningCommandIds: commands.running.sorted())
    }

    /// Makes the stream current and takes what the welcome says.
    func beginSession(
        _ welcome: TrellisV1.Welcome, outbox: AsyncStream<TrellisV1.AgentMessage>.Continuation
    ) -> Session {
        sessionCount += 1
        let heartbeat =
            welcome.heartbeatIntervalMs > 0
            ? Duration.milliseconds(Int64(welcome.heartbeatIntervalMs)) : Self.defaultHeartbeatInterval
        let session = Session(number: sessionCount, outbox: outbox, heartbeatInterval: heartbeat)
        self.session = session
        apply(welcome)
        return session
    }

    /// Takes a welcome's intervals and resources, and asks for an observation round now.
    func apply(_ welcome: TrellisV1.Welcome) {
        observeInterval =
            welcome.observeIntervalMs > 0
            ? .milliseconds(Int64(welcome.observeIntervalMs)) : Self.defaultObserveInterval
        held.replaceAll(with: welcome.resources)
        let keys = Set(held.entries.keys)
        probes = probes.filter { keys.contains($0.key) }
        if var current = session {
            current.reported = current.reported.filter { keys.contains($0.key) }
            session = current
        }
        observeTrigger.signal()
    }

    func endSession(_ number: Int) {
        guard session?.number == number else { return }
        session?.outbox.finish()
        session = nil
    }

    func heartbeat() -> TrellisV1.Heartbeat {
        TrellisV1.Heartbeat(timeUnixMs: Self.nowUnixMilliseconds(), running: UInt32(clamping: commands.running.count))
    }

    func handle(_ message: TrellisV1.CoordinatorMessage) {
        switch message.body {
        case .command(let command):
            receive(command)
        case .welcome(let welcome):
            apply(welcome)
        case nil:
            logger.debug("ignoring an empty message from the coordinator")
        }
    }

    // MARK: - The connection loop

    /// Connects, serves one stream until it ends, waits out the backoff, and again,
    /// until cancelled.
    nonisolated func connectionLoop() async {
        var delays = ReconnectBackoff.Series(configuration.backoff)
        var attempt = 0
        while !Task.isCancelled {
            attempt += 1
            let started = ContinuousClock.now
            let welcomed = Flag()
            let reason = await runSession(attempt: attempt, welcomed: welcomed)
            if Task.isCancelled { break }

            if welcomed.isSet && ContinuousClock.now - started >= configuration.backoff.resetAfter {
                delays.reset()
            }
            let delay = delays.next()
            let metadata = [
                "coordinator.address": configuration.coordinator.description, "reason": reason,
                "retry.delay": "\(delay)",
            ]
            if welcomed.isSet {
                logger.info("disconnected from the coordinator; reconnecting", metadata)
                attempt = 0
            } else {
                logger.warning("could not connect to the coordinator; retrying", metadata)
            }
            try? await Task.sleep(for: delay)
        }
    }

    /// Runs one Connect call to its end; returns why it ended. Without a welcome within
    /// the configured timeout the call is abandoned.
    nonisolated func runSession(attempt: Int, welcomed: Flag) async -> String {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.serveStream(attempt: attempt, welcomed: welcomed) }
                group.addTask { [configuration] in
                    try await Task.sleep(for: configuration.welcomeTimeout)
                    if !welcomed.isSet {
                        throw AgentError(
                            .protocolViolation, "no welcome within \(configuration.welcomeTimeout) of the hello")
                    }
                    // Welcomed: wait with the stream, to be cancelled when it ends.
                    try await Task.sleep(for: .seconds(86_400 * 365))
                }
                defer { group.cancelAll() }
                try await group.next()
            }
            return "the stream ended"
        } catch let error as RPCError {
            return error.message
        } catch {
            return "\(error)"
        }
    }

    /// The Connect call: hello, welcome, then commands in and messages out until either
    /// side ends it.
    private nonisolated func serveStream(attempt: Int, welcomed: Flag) async throws {
        try await client.bidirectional(TrellisV1.AgentService.connect) { writer, responses in
            try await writer.write(TrellisV1.AgentMessage(body: .hello(await self.makeHello())))
            var iterator = responses.makeAsyncIterator()
            guard let first = try await iterator.next() else {
                throw AgentError(.protocolViolation, "the coordinator ended the stream before its welcome")
            }
            guard case .welcome(let welcome) = first.body else {
                throw AgentError(.protocolViolation, "the coordinator's first message is not a welcome")
            }

            let (outbox, continuation) = AsyncStream.makeStream(of: TrellisV1.AgentMessage.self)
            let session = await self.beginSession(welcome, outbox: continuation)
            welcomed.set()
            logger.info(
                "connected to the coordinator",
                [
                    "coordinator.address": configuration.coordinator.description, "connection.attempt": "\(attempt)",
                    "resources.held": "\(welcome.resources.count)",
                ])
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // The only writer after the hello: the stream takes one write at a time.
                    group.addTask {
                        for await message in outbox { try await writer.write(message) }
                    }
                    group.addTask {
                        while true {
                            try await Task.sleep(for: session.heartbeatInterval)
                            await self.send(.heartbeat(self.heartbeat()))
                        }
                    }
                    defer { group.cancelAll() }
                    // Reading stays in this task, which the call's cancellation reaches.
                    while let message = try await iterator.next() {
                        await self.handle(message)
                    }
                }
            } catch {
                await self.endSession(session.number)
                throw error
            }
            await self.endSession(session.number)
        }
    }

    static func nowUnixMilliseconds() -> Int64 {
        WallTime.nowUnixMilliseconds()
    }
}

/// A flag set once, read from other tasks.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)

    var isSet: Bool { value.load(ordering: .acquiring) }

    func set() {
        value.store(true, ordering: .releasing)
    }
}
