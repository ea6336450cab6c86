import Synchronization
import TrellisAPI
import TrellisLogging
import TrellisRPC
import TrellisStore

/// The agents the coordinator knows: which are connected, what they serve, and the
/// commands sent to them that wait for a result.
///
/// A command belongs to an agent, not to a connection. One sent to an agent that is
/// disconnected waits for it; after a reconnect every command still waiting is sent
/// again with its id, except those the agent says it is still running, and the agent
/// answers a repeated id without running it twice. Only when the agent stays silent past
/// the grace period is it Unreachable: its waiting commands fail (retryably), and its
/// resources' health becomes Unknown. Nothing is deleted.
public actor AgentHub {
    /// What the hub knows of one agent.
    struct Entry {
        var name: String
        var labels: [String: String]
        var drivers: Set<String>
        var capacity: Int
        var hostname: String
        var version: String
        var joinedAt: Int64
        /// The last heartbeat or message, in ms since the epoch, as of the last message
        /// through the hub; ``lastHeard`` adds what the session saw since.
        var lastSeen: Int64
        var state: TrellisV1.AgentState
        var session: AgentSession?

        /// The last heartbeat or message, in ms since the epoch.
        var lastHeard: Int64 { max(lastSeen, session?.lastHeard ?? 0) }
    }

    struct PendingCommand {
        var command: TrellisV1.Command
        var agent: String
        var continuation: CheckedContinuation<TrellisV1.CommandResult, any Error>
    }

    /// What the hub tells the engine.
    struct Observers: Sendable {
        var report: @Sendable (String, TrellisV1.ResourceReport) async -> Void = { _, _ in }
        var unreachable: @Sendable (String) async -> Void = { _ in }
        var welcomeResources: @Sendable (String) async throws -> [TrellisV1.AgentResource] = { _ in [] }
    }

    let store: any StateStore
    let heartbeatInterval: Duration
    let grace: Duration
    let observeInterval: Duration
    let logger: Logger
    private(set) var entries: [String: Entry] = [:]
    private var pending: [String: PendingCommand] = [:]
    private var observers = Observers()
    private var nextSession: UInt64 = 0
    private var nextCommand: UInt64 = 0
    private let commandPrefix: String
    private var monitor: Task<Void, Never>?
    /// The earliest time any agent not Unreachable was last heard from, as of the last
    /// scan for silence. Heard times only move forward and a new connection starts at
    /// now, so no agent can pass the grace period before this time plus the grace: until
    /// then the once-a-second check skips the scan, which with thousands of agents would
    /// otherwise be the hub's main cost between heartbeats.
    private var oldestHeard: Int64 = 0
    /// When ended join tokens were last pruned.
    private var tokensPrunedAt: Int64?

    /// How long a used or expired join token is kept: a late join with it is told that it
    /// was used or has expired, not that it is unknown. Then it is removed, so that the
    /// table holds about a week of tokens however many are made.
    static let joinTokenRetention: Duration = .seconds(7 * 86_400)
    /// How often the hub prunes ended join tokens (and once when it starts).
    static let joinTokenPruneInterval: Duration = .seconds(3600)

    init(
        store: any StateStore, heartbeatInterval: Duration, grace: Duration, observeInterval: Duration,
        logger: Logger
    ) {
        self.store = store
        self.heartbeatInterval = heartbeatInterval
        self.grace = grace
        self.observeInterval = observeInterval
        self.logger = logger
        var generator = SystemRandomNumberGenerator()
        commandPrefix = String(generator.next() as UInt32, radix: 36)
    }

    /// Loads the agents known from earlier runs, as Disconnected since now: each gets the
    /// grace period to reconnect before it is Unreachable. Starts the grace monitor.
    func start(observers: Observers) async throws {
        self.observers = observers
        let now = Clock.nowMilliseconds()
        for record in try await store.agents() {
            entries[record.name] = Entry(
                name: record.name, labels: StateCoding.labels(fromJSON: record.labels),
                drivers: Set((try? StateCoding.strings(fromJSON: record.drivers, what: "drivers")) ?? []),
                capacity: Int(record.capacity), hostname: record.hostname, version: record.version,
                joinedAt: record.joinedAt, lastSeen: max(record.lastSeenAt, now), state: .disconnected, session: nil)
        }
        let period = min(grace / 4, .seconds(1))
        monitor = Task { [weak self] in
            while !Task.isCancelled {
                await self?.pruneJoinTokensWhenDue(now: Clock.nowMilliseconds())
                try? await Task.sleep(for: period)
                await self?.checkSilence()
            }
        }
    }

    func stop() {
        monitor?.cancel()
        for entry in entries.values { entry.session?.close() }
        for (_, command) in pending {
            command.continuation.resume(
                throwing: AgentCommandError("coordinator shutting down", retryable: true))
        }
        pending.removeAll()
    }

    // MARK: - Connections

    /// Records a new connection of `hello.name`; a session it replaces is closed. Returns
    /// the session, with its welcome queued first and the commands waiting for the agent
    /// after it.
    func connected(
        _ hello: TrellisV1.AgentHello, welcome: TrellisV1.Welcome,
        write: @escaping @Sendable (TrellisV1.CoordinatorMessage) async throws -> Void,
        onClose: @escaping @Sendable () -> Void = {}
    ) -> AgentSession {
        nextSession += 1
        let now = Clock.nowMilliseconds()
        let session = AgentSession(
            id: nextSession, name: hello.name, heardAt: now, write: write, onClose: onClose)
        let previous = entries[hello.name]
        previous?.session?.close()
        entries[hello.name] = Entry(
            name: hello.name, labels: hello.labels, drivers: Set(hello.drivers), capacity: Int(hello.capacity),
            hostname: hello.hostname, version: hello.version, joinedAt: previous?.joinedAt ?? now, lastSeen: now,
            state: .connected, session: session)
        session.send(TrellisV1.CoordinatorMessage(body: .welcome(welcome)))
        let running = Set(hello.runningCommandIds)
        var resent = 0
        for command in pending.values where command.agent == hello.name && !running.contains(command.command.id) {
            session.send(TrellisV1.CoordinatorMessage(body: .command(command.command)))
            resent += 1
        }
        logger.info(
            previous?.state == .connected ? "agent reconnected, replacing its previous connection" : "agent connected",
            ["agent.name": hello.name, "commands.resent": "\(resent)", "commands.running": "\(running.count)"])
        return session
    }

    /// The session ended; the agent is Disconnected until it comes back or the grace
    /// period passes.
    func disconnected(_ session: AgentSession) {
        guard var entry = entries[session.name], entry.session?.id == session.id else { return }
        entry.lastSeen = entry.lastHeard
        entry.session = nil
        entry.state = .disconnected
        entries[session.name] = entry
        logger.info("agent disconnected", ["agent.name": session.name])
    }

    /// A message from the agent on `session`. Heartbeats need not come here: the
    /// session's ``AgentSession/heard(at:)`` records them.
    func received(_ message: TrellisV1.AgentMessage, on session: AgentSession) async {
        guard var entry = entries[session.name], entry.session?.id == session.id else { return }
        entry.lastSeen = Clock.nowMilliseconds()
        entries[session.name] = entry
        switch message.body {
        case .heartbeat:
            break
        case .result(let result):
            guard let command = pending.removeValue(forKey: result.id) else {
                logger.debug("result for a command nobody waits for", ["agent.name": session.name, "id": result.id])
                return
            }
            command.continuation.resume(returning: result)
        case .report(let report):
            await observers.report(session.name, report)
        case .hello:
            logger.warning("second hello on one connection ignored", ["agent.name": session.name])
        case nil:
            break
        }
    }

    /// Removes the join tokens that ended more than ``joinTokenRetention`` before `now`, if
    /// the last pruning is ``joinTokenPruneInterval`` old. A failure is logged and tried
    /// again at the next interval: nothing depends on it but the table's size.
    func pruneJoinTokensWhenDue(now: Int64) async {
        if let last = tokensPrunedAt, now - last < Self.joinTokenPruneInterval.milliseconds { return }
        tokensPrunedAt = now
        do {
            let removed = try await store.pruneJoinTokens(endedBefore: now - Self.joinTokenRetention.milliseconds)
            if removed > 0 { logger.info("pruned ended join tokens", ["count": String(removed)]) }
        } catch {
            logger.warning("pruning join tokens failed", ["error": "\(error)"])
        }
    }

    /// Agents silent past the grace period become Unreachable; a connected one is
    /// disconnected first (its connection is presumed dead).
    private func checkSilence() async {
        let now = Clock.nowMilliseconds()
        let limit = grace.milliseconds
        guard now - oldestHeard > limit else { return }
        var lost: [String] = []
        var oldest = now
        for (name, var entry) in entries where entry.state != .unreachable {
            let heard = entry.lastHeard
            guard now - heard > limit else {
                oldest = min(oldest, heard)
                continue
            }
            entry.session?.close()
            entry.session = nil
            entry.state = .unreachable
            entries[name] = entry
            lost.append(name)
            logger.warning(
                "agent unreachable: no heartbeat within the grace period",
                ["agent.name": name, "grace": "\(grace)"])
        }
        oldestHeard = oldest
        for name in lost {
            for (id, command) in pending where command.agent == name {
                pending[id] = nil
                command.continuation.resume(
                    throwing: AgentCommandError("agent \(name) is unreachable", retryable: true))
            }
            await observers.unreachable(name)
        }
    }

    // MARK: - Commands

    /// Sends `command` (its id assigned here) to `agent` and waits for the result. The
    /// command waits while the agent is disconnected; it fails when the agent is or
    /// becomes Unreachable.
    func run(
        _ kind: TrellisV1.CommandKind, _ resource: TrellisV1.AgentResource, attempt: Int, on agent: String
    ) async throws -> TrellisV1.CommandResult {
        guard let entry = entries[agent] else {
            throw AgentCommandError("agent \(agent) is not known to this coordinator", retryable: false)
        }
        guard entry.state != .unreachable else {
            throw AgentCommandError("agent \(agent) is unreachable", retryable: true)
        }
        nextCommand += 1
        let command = TrellisV1.Command(
            id: "\(commandPrefix)-\(nextCommand)", kind: kind, resource: resource, attempt: UInt32(clamping: attempt))
        return try await withCheckedThrowingContinuation { continuation in
            pending[command.id] = PendingCommand(command: command, agent: agent, continuation: continuation)
            entry.session?.send(TrellisV1.CoordinatorMessage(body: .command(command)))
        }
    }

    // MARK: - Placement

    /// A connected agent that serves `driver` and carries every label of `selector`:
    /// one of `preferred` when one qualifies, else the one with the fewest commands
    /// waiting. Waits up to `wait` for one to connect.
    func place(
        driver: String, selector: [String: String], preferred: [String], wait: Duration
    ) async throws
        -> String
    {
        let deadline = ContinuousClock.now + wait
        while true {
            if let name = choose(driver: driver, selector: selector, preferred: preferred) { return name }
            if ContinuousClock.now >= deadline { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let wanted = selector.isEmpty ? "" : " with labels " + Self.describe(selector)
        throw AgentCommandError("no connected agent\(wanted) serves driver \(driver)", retryable: true)
    }

    func choose(driver: String, selector: [String: String], preferred: [String]) -> String? {
        let candidates = entries.values.filter { entry in
            entry.state == .connected && entry.drivers.contains(driver)
                && selector.allSatisfy { entry.labels[$0.key] == $0.value }
        }
        if let name = preferred.first(where: { name in candidates.contains { $0.name == name } }) { return name }
        var load: [String: Int] = [:]
        for command in pending.values { load[command.agent, default: 0] += 1 }
        return candidates.min { (load[$0.name] ?? 0, $0.name) < (load[$1.name] ?? 0, $1.name) }?.name
    }

    /// What a connecting agent is told it holds.
    func welcomeResources(for agent: String) async throws -> [TrellisV1.AgentResource] {
        try await observers.welcomeResources(agent)
    }

    static func describe(_ labels: [String: String]) -> String {
        "{" + labels.keys.sorted().map { "\($0): \(labels[$0]!)" }.joined(separator: ", ") + "}"
    }

    // MARK: - Listing

    func statuses() async throws -> [TrellisV1.AgentStatus] {
        var counts: [String: Int] = [:]
        var statuses: [TrellisV1.AgentStatus] = []
        for name in entries.keys.sorted() {
            let entry = entries[name]!
            if counts[name] == nil { counts[name] = try await store.resources(onAgent: name).count }
            statuses.append(
                TrellisV1.AgentStatus(
                    name: name, labels: entry.labels, state: entry.state, lastHeartbeatUnixMs: entry.lastHeard,
                    joinedAtUnixMs: entry.joinedAt, drivers: entry.drivers.sorted(),
                    capacity: UInt32(clamping: entry.capacity), hostname: entry.hostname, version: entry.version,
                    resources: UInt32(clamping: counts[name] ?? 0)))
        }
        return statuses
    }
}

/// One connection of an agent: its outgoing messages, written in the order sent.
///
/// A task writes them only while some are waiting, so that an idle connection, the usual
/// state of thousands of agents, holds no task for its writes. A failed write closes the
/// session. After ``close()`` nothing more is written, and `onClose` ends the connection's
/// Connect call (its reader stops), so that the agent sees the end and reconnects.
final class AgentSession: Sendable {
    let id: UInt64
    let name: String
    private let write: @Sendable (TrellisV1.CoordinatorMessage) async throws -> Void
    private let onClose: @Sendable () -> Void
    private let outbox = Mutex<Outbox>(Outbox())
    /// When the agent was last heard from on this connection, in ms since the epoch:
    /// stored by the connection's reader, read by the hub, so that a heartbeat costs no
    /// trip through the hub actor.
    private let heard: Atomic<Int64>

    /// The messages waiting, whether a task is writing them (at most one is), and whether
    /// the session is closed.
    private struct Outbox {
        var waiting: [TrellisV1.CoordinatorMessage] = []
        var writing = false
        var closed = false
    }

    init(
        id: UInt64, name: String, heardAt: Int64,
        write: @escaping @Sendable (TrellisV1.CoordinatorMessage) async throws -> Void,
        onClose: @escaping @Sendable () -> Void = {}
    ) {
        self.id = id
        self.name = name
        self.heard = Atomic(heardAt)
        self.write = write
        self.onClose = onClose
    }

    /// The last time the agent was heard from on this connection, in ms since the epoch.
    var lastHeard: Int64 { heard.load(ordering: .relaxed) }

    /// The agent was heard from (any message) at `time`, in ms since the epoch.
    func heard(at time: Int64) {
        heard.store(time, ordering: .relaxed)
    }

    func send(_ message: TrellisV1.CoordinatorMessage) {
        let startWriting = outbox.withLock { outbox -> Bool in
            guard !outbox.closed else { return false }
            outbox.waiting.append(message)
            guard !outbox.writing else { return false }
            outbox.writing = true
            return true
        }
        if startWriting { Task { await self.writeWaiting() } }
    }

    /// Ends the session: messages still waiting are dropped, and the call is ended.
    func close() {
        let first = outbox.withLock { outbox -> Bool in
            defer {
                outbox.closed = true
                outbox.waiting.removeAll()
            }
            return !outbox.closed
        }
        if first { onClose() }
    }

    private func writeWaiting() async {
        while let message = nextWaiting() {
            do {
                try await write(message)
            } catch {
                close()
                return
            }
        }
    }

    private func nextWaiting() -> TrellisV1.CoordinatorMessage? {
        outbox.withLock { outbox in
            guard !outbox.closed, !outbox.waiting.isEmpty else {
                outbox.writing = false
                return nil
            }
            return outbox.waiting.removeFirst()
        }
    }
}

/// A command that could not be carried out on an agent.
struct AgentCommandError: Error, CustomStringConvertible {
    var description: String
    var retryable: Bool

    init(_ description: String, retryable: Bool) {
        self.description = description
        self.retryable = retryable
    }
}
