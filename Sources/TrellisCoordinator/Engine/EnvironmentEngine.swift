import Glibc
import Synchronization
import TrellisAPI
import TrellisDomain
import TrellisDrivers
import TrellisEngine
import TrellisLogging
import TrellisRPC
import TrellisStore
import TrellisWire

/// Owns environments: admits applies, runs apply and delete operations to completion,
/// resumes them after a restart, expires environments whose time to live has passed,
/// and publishes progress.
///
/// One operation runs per environment at a time. Operations run in tasks the engine owns,
/// not in the calls that asked for them: an apply goes on if its caller goes away, and a
/// coordinator killed mid-operation picks it up from the journal when it starts again.
/// Every transition is persisted before it is acted on.
public actor EnvironmentEngine {
    let store: any StateStore
    nonisolated let admission: Admission
    /// Drivers the coordinator runs itself (`noop`); every other driver runs on agents.
    let drivers: DriverRegistry
    let agents: AgentHub?
    /// How long a step waits for an agent that matches its placement to connect.
    let placementWait: Duration
    let limits: ExecutionLimits
    let hub = ProgressHub()
    let logger: Logger
    let faults: FaultInjection
    /// The operation each environment has, from the moment it is claimed (before any
    /// suspension that could let a second one in) until it ends.
    private var operations: [String: OperationKind] = [:]
    private var running: [String: Task<Void, Never>] = [:]
    private var ttlTask: Task<Void, Never>?
    /// Per environment being applied, the resources it is to run that have no stored row
    /// yet: they read as Pending until their first transition is written.
    var unwritten: [String: [ResolvedResource]] = [:]
    /// The last health roll-up published per environment.
    var publishedHealth: [String: String] = [:]

    public init(
        store: any StateStore,
        drivers: DriverRegistry,
        agents: AgentHub? = nil,
        validators: ParamValidators = .agentDrivers,
        placementWait: Duration = .seconds(10),
        apiGroup: String = SpecDecoder.defaultAPIGroup,
        limits: ExecutionLimits = ExecutionLimits(),
        logger: Logger = Logger(label: "engine"),
        faults: FaultInjection = FaultInjection()
    ) {
        self.store = store
        self.drivers = drivers
        self.agents = agents
        self.placementWait = placementWait
        var validators = validators
        for name in drivers.names { validators.add(drivers.driver(named: name)!) }
        self.admission = Admission(
            decoder: SpecDecoder(apiGroup: apiGroup), resolver: Resolver(), validators: validators, store: store,
            logger: logger)
        self.limits = limits
        self.logger = logger
        self.faults = faults
    }

    // MARK: - Lifecycle

    /// Resumes operations a previous run left unfinished and starts the TTL loop.
    public func start(ttlInterval: Duration = .seconds(1)) async throws {
        for name in try await store.environmentsWithUnfinishedWork() {
            guard let record = try await store.environment(named: name) else { continue }
            logger.info("resuming unfinished operation", ["env.name": name, "env.phase": record.phase])
            if record.deletionRequested || record.phase == EnvironmentPhase.deleting {
                guard claim(name, .delete) else { continue }
                launch(name) { engine in await engine.runDelete(name) }
            } else {
                guard claim(name, .apply) else { continue }
                launch(name) { engine in await engine.resumeApply(record) }
            }
        }
        ttlTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: ttlInterval)
                await self?.expire()
            }
        }
    }

    /// Stops the TTL loop and ends every progress stream. Operations still running are
    /// left to the journal: the next start resumes them.
    public func stop() async {
        ttlTask?.cancel()
        hub.finishAll()
    }

    /// Waits until no operation is running (tests, benchmarks).
    public func waitUntilIdle() async {
        while let operation = running.values.first { await operation.value }
    }

    /// Deletes every environment whose time to live has passed.
    func expire() async {
        do {
            for record in try await store.expiredEnvironments(now: Clock.nowMilliseconds()) {
                guard claim(record.name, .delete) else { continue }
                logger.info("time to live passed; deleting", ["env.name": record.name])
                do {
                    try await requestDeletion(record.name)
                } catch {
                    release(record.name)
                    throw error
                }
            }
        } catch let error as StoreError where error.code == .closed {
            // Shutting down: the next start expires what this pass did not.
            logger.debug("expiring environments stopped: the store is closed")
        } catch {
            logger.error("expiring environments failed", ["error": "\(error)"])
        }
    }

    // MARK: - Requests

    /// Checks and stores what `files` hold, starts an apply for every environment in them,
    /// and returns the stream of their progress and the documents stored.
    func apply(
        _ files: [TrellisV1.SourceFile]
    ) async throws -> (
        documents: [AdmittedDocument], environments: [String], events: ProgressStream
    ) {
        let admitted = try await admission.admit(files)
        let names = admitted.environments.map(\.resolved.name)
        var claimed: [String] = []
        do {
            for name in names {
                try await claimWaitingForRepair(name, .apply)
                claimed.append(name)
            }
            return try await startApply(admitted, names)
        } catch {
            for name in claimed { release(name) }
            throw error
        }
    }

    /// Stores an admitted apply and launches its environments, which the caller claimed.
    private func startApply(
        _ admitted: Admitted, _ names: [String]
    ) async throws -> (documents: [AdmittedDocument], environments: [String], events: ProgressStream) {
        // The documents, each environment and its intent in one write: once it is
        // durable the apply is accepted, and a restart finishes it.
        let now = Clock.nowMilliseconds()
        var batch = StoreBatch(
            admitted.documents.filter(\.changed).map {
                .putDocument(CatalogDocumentDraft(kind: $0.kind, name: $0.name, body: $0.body, createdAt: now))
            })
        var new: Set<String> = []
        for environment in admitted.environments {
            let existing = try await store.environment(named: environment.resolved.name)
            if existing == nil { new.insert(environment.resolved.name) }
            let record = Self.environmentRecord(environment, existing: existing, now: now)
            batch.append(
                existing == nil
                    ? .createEnvironment(record) : .replaceEnvironment(record, expectedRevision: existing!.revision))
            batch.append(.appendJournal(journal(environment.resolved.name, nil, Operation.apply, .intent)))
        }
        if !batch.isEmpty { try await persist(batch) }
        let events = hub.subscribe(to: Set(names), unbounded: true)
        for environment in admitted.environments {
            // An environment stored just now has no resources yet: none to read.
            let isNew = new.contains(environment.resolved.name)
            launch(environment.resolved.name) { engine in await engine.runApply(environment, isNew: isNew) }
        }
        return (admitted.documents, names, events)
    }

    /// Stores the catalog documents in `files`; environments in them are refused.
    func putDocuments(_ files: [TrellisV1.SourceFile]) async throws -> [TrellisV1.DocumentResult] {
        let admitted = try await admission.admit(files)
        guard admitted.environments.isEmpty else {
            throw RPCError(.invalidArgument, "catalog: Environments are applied with EnvironmentService/Apply")
        }
        let now = Clock.nowMilliseconds()
        let batch = StoreBatch(
            admitted.documents.filter(\.changed).map {
                .putDocument(CatalogDocumentDraft(kind: $0.kind, name: $0.name, body: $0.body, createdAt: now))
            })
        if !batch.isEmpty { try await persist(batch) }
        return admitted.documents.map {
            TrellisV1.DocumentResult(
                kind: $0.kind, name: $0.name, version: UInt32(clamping: $0.version), changed: $0.changed)
        }
    }

    /// What an apply of `files` would do.
    func plan(_ files: [TrellisV1.SourceFile]) async throws -> TrellisV1.PlanResponse {
        let admitted = try await admission.admit(files)
        var plans: [TrellisV1.EnvironmentPlan] = []
        for environment in admitted.environments {
            let records = try await store.resources(inEnvironment: environment.resolved.name)
            plans.append(Self.planMessage(environment.resolved, try Self.diff(environment.resolved, records)))
        }
        return TrellisV1.PlanResponse(
            environments: plans,
            documents: admitted.documents.map {
                TrellisV1.DocumentResult(
                    kind: $0.kind, name: $0.name, version: UInt32(clamping: $0.version), changed: $0.changed)
            })
    }

    /// Starts deleting environment `name`; returns its progress stream.
    func delete(_ name: String) async throws -> ProgressStream {
        guard try await store.environment(named: name) != nil else {
            throw RPCError(.notFound, "engine: environment \(name) does not exist")
        }
        try await claimWaitingForRepair(name, .delete)
        let events = hub.subscribe(to: [name], unbounded: true)
        do {
            try await requestDeletion(name)
        } catch {
            release(name)
            throw error
        }
        return events
    }

    /// Events of one environment or all, from now on.
    nonisolated func watch(_ name: String) -> ProgressStream {
        hub.subscribe(to: name.isEmpty ? nil : [name], unbounded: false)
    }

    func status(of name: String) async throws -> TrellisV1.EnvironmentStatus {
        guard let record = try await store.environment(named: name) else {
            throw RPCError(.notFound, "engine: environment \(name) does not exist")
        }
        return StateCoding.status(record, try await resources(of: name))
    }

    /// The stored resources of an environment, with those of its running apply that have
    /// no row yet as Pending, ordered by name.
    private func resources(of name: String) async throws -> [ResourceRecord] {
        let stored = try await store.resources(inEnvironment: name)
        guard let unwritten = unwritten[name], !unwritten.isEmpty else { return stored }
        let names = Set(stored.map(\.name))
        let pending = unwritten.filter { !names.contains($0.name) }.map {
            Self.record(name, $0, phase: ResourcePhase.pending)
        }
        return (stored + pending).sorted { $0.name < $1.name }
    }

    func list(team: String) async throws -> [TrellisV1.EnvironmentStatus] {
        let records = try await store.environments(matching: EnvironmentFilter(team: team.isEmpty ? nil : team))
        var statuses: [TrellisV1.EnvironmentStatus] = []
        for record in records.sorted(by: { $0.name < $1.name }) {
            statuses.append(StateCoding.status(record, try await resources(of: record.name)))
        }
        return statuses
    }

    // MARK: - Operations

    private func requestDeletion(_ name: String) async throws {
        try await persist([
            .requestEnvironmentDeletion(name: name, expectedRevision: nil),
            .setEnvironmentPhase(name: name, phase: EnvironmentPhase.deleting, expectedRevision: nil),
            .appendJournal(journal(name, nil, Operation.delete, .intent)),
        ])
        launch(name) { engine in await engine.runDelete(name) }
    }

    /// Whether environment `name` has an operation, claimed or running.
    func isRunning(_ name: String) -> Bool { operations[name] != nil }

    /// Claims environment `name` for an operation of `kind`; false when it has one.
    /// Claim before the first suspension of whatever launches the operation.
    func claim(_ name: String, _ kind: OperationKind) -> Bool {
        guard operations[name] == nil else { return false }
        operations[name] = kind
        return true
    }

    /// Gives up a claim that launched nothing (its request failed).
    func release(_ name: String) {
        precondition(running[name] == nil, "releasing environment \(name) while its operation runs")
        operations[name] = nil
    }

    /// Claims `name` for a request's operation. A repair of drift the engine started by
    /// itself is waited for, since the caller did not ask for it; any other operation
    /// fails the request.
    private func claimWaitingForRepair(_ name: String, _ kind: OperationKind) async throws {
        while operations[name] == .repair, let repair = running[name] { await repair.value }
        guard claim(name, kind) else {
            throw RPCError(.failedPrecondition, "engine: environment \(name) has an operation in progress")
        }
    }

    /// Runs `body` as the one operation of environment `name`. After any operation but a
    /// repair, drift reported while it ran is repaired (agents report a change once).
    func launch(_ name: String, _ body: @escaping @Sendable (EnvironmentEngine) async -> Void) {
        guard let kind = operations[name], running[name] == nil else {
            preconditionFailure("environment \(name) was not claimed, or its operation runs already")
        }
        running[name] = Task { [self] in
            await body(self)
            self.finished(name, kind)
        }
    }

    private func finished(_ name: String, _ kind: OperationKind) {
        running[name] = nil
        operations[name] = nil
        if kind != .repair { Task { await self.repairPendingDrift(of: name) } }
    }

    // MARK: - Persistence and events

    /// Writes `batch` durably; nothing is acted on before this returns.
    nonisolated func persist(_ batch: StoreBatch) async throws {
        try await store.write(batch)
        faults.acknowledgedWrite()
    }

    /// Writes one resource's transition before it is acted on: logged, so that the store
    /// acknowledges it once it is in its transition log, before its commit. Such records
    /// survive a crash of trellisd; after a power loss the latest may be missing, which is safe:
    /// the step they describe runs again, and drivers are idempotent. What is promised
    /// to a caller (an accepted apply, an environment's outcome) is flushed instead.
    nonisolated func persistTransition(_ mutations: [StoreMutation]) async throws {
        try await persist(StoreBatch(mutations, durability: .logged))
    }

    nonisolated func journal(
        _ environment: String, _ resource: String?, _ operation: String, _ transition: JournalTransition,
        payload: String = "{}"
    ) -> JournalDraft {
        JournalDraft(
            environment: environment, resource: resource, operation: operation, transition: transition,
            payload: payload, time: Clock.nowMilliseconds())
    }

    nonisolated func publish(
        _ environment: String, _ event: TrellisV1.EventType, resource: String = "", phase: String,
        message: String = "", attempt: Int = 0, outputs: [String: String] = [:], plan: TrellisV1.EnvironmentPlan? = nil
    ) {
        hub.publish(
            TrellisV1.ProgressEvent(
                timeUnixMs: Clock.nowMilliseconds(), environment: environment, resource: resource, event: event,
                phase: phase, outputs: outputs, message: message, attempt: UInt32(clamping: attempt), plan: plan))
    }
}

/// What an environment's one operation at a time is.
enum OperationKind: Sendable {
    case apply
    case delete
    /// Drift repair the engine starts by itself; requests wait for it rather than fail.
    case repair
}

/// Wall-clock milliseconds, the unit every record uses.
enum Clock {
    static func nowMilliseconds() -> Int64 { WallClock.nowNanoseconds() / 1_000_000 }
}

/// A test hook: `TRELLIS_TEST_KILL_AFTER_WRITES=N` makes the process kill itself with
/// SIGKILL right after its Nth acknowledged state write, so that tests can crash the
/// coordinator between any two persisted transitions.
public final class FaultInjection: Sendable {
    private let remaining: Atomic<Int>

    public init(killAfterWrites: Int? = nil) {
        remaining = Atomic(killAfterWrites ?? -1)
    }

    /// Reads the hook from the environment.
    public static func fromEnvironment() -> FaultInjection {
        guard let text = getenv("TRELLIS_TEST_KILL_AFTER_WRITES").map({ String(cString: $0) }), let count = Int(text)
        else { return FaultInjection() }
        return FaultInjection(killAfterWrites: count)
    }

    func acknowledgedWrite() {
        guard remaining.load(ordering: .relaxed) > 0 else { return }
        if remaining.subtract(1, ordering: .relaxed).newValue == 0 {
            kill(getpid(), SIGKILL)
        }
    }
}
