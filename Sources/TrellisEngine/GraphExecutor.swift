/// Runs a dependency graph of steps with as much parallelism as the graph and the limits
/// allow.
///
/// An item starts as soon as everything it depends on has succeeded (not layer by layer),
/// so a run takes about as long as the graph's critical path. A failed item's dependents,
/// direct and transitive, are never started (`blocked`); independent branches go on.
/// Retryable failures are retried with doubling backoff up to `maxAttempts`.
///
/// Items in `completed` (for example, finished before a restart) count as succeeded and
/// are not run again.
public struct GraphExecutor: Sendable {
    public let limits: ExecutionLimits

    public init(limits: ExecutionLimits = ExecutionLimits()) {
        self.limits = limits
    }

    /// Runs `items`; `step` does one attempt of one item; `events` hears each transition
    /// in the order the executor decides it.
    ///
    /// - Precondition: the graph is acyclic and every dependency is an item or completed.
    public func run(
        _ items: [WorkItem],
        completed: Set<String> = [],
        step: @escaping @Sendable (WorkItem, Int) async throws -> Void,
        events: @escaping @Sendable (ExecutionEvent) async -> Void = { _ in }
    ) async -> ExecutionReport {
        await run(
            items, completed: completed,
            step: { item, attempt, _ -> Never? in
                try await step(item, attempt)
                return nil
            },
            settle: { _ in }, events: events)
    }

    /// Runs `items` where a step may leave the record of its success for the executor to
    /// hand on: a step returns it instead of writing it, and the executor gives it to the
    /// next step it starts (`carried`, on that step's first attempt), which writes it with
    /// its own first record, before acting on either. A chain of steps then makes one write
    /// per step instead of two. Records no started step can take (nothing became
    /// startable, or the run ends) go to `settle`, which the executor awaits before it
    /// starts anything else.
    ///
    /// A step that takes records must write them before it acts, and before anything that
    /// may wait long (it can write them alone first). A carried record whose step fails
    /// before writing it is lost, which leaves its item looking unfinished to whoever reads
    /// the records: it runs again next time, as after a crash.
    public func run<Record: Sendable>(
        _ items: [WorkItem],
        completed: Set<String> = [],
        step: @escaping @Sendable (WorkItem, Int, [Record]) async throws -> Record?,
        settle: @escaping @Sendable ([Record]) async -> Void,
        events: @escaping @Sendable (ExecutionEvent) async -> Void = { _ in }
    ) async -> ExecutionReport {
        var state = SchedulerState(items: items, completed: completed, limits: limits)
        let limits = limits

        await withTaskGroup(of: (String, Result<Int, StepFailure>, Record?).self) { group in
            var unclaimed: [Record] = []
            func launchReady() {
                while let item = state.nextStartable() {
                    let carried = unclaimed
                    unclaimed = []
                    group.addTask {
                        var record: Record?
                        let result = await Self.attempt(item, limits: limits, events: events) { item, attempt in
                            record = try await step(item, attempt, attempt == 1 ? carried : [])
                        }
                        return (item.id, result, record)
                    }
                }
            }
            launchReady()
            while let (id, result, record) = await group.next() {
                switch result {
                case .success(let attempts):
                    if let record { unclaimed.append(record) }
                    await events(.succeeded(id: id, attempts: attempts))
                    state.succeeded(id, attempts: attempts)
                case .failure(let failure):
                    await events(.failed(id: id, message: failure.message, attempts: failure.attempts))
                    for blocked in state.failed(id, message: failure.message, attempts: failure.attempts) {
                        await events(.blocked(id: blocked, dependency: id))
                    }
                }
                if !Task.isCancelled { launchReady() }
                if !unclaimed.isEmpty {
                    await settle(unclaimed)
                    unclaimed = []
                }
            }
        }
        return ExecutionReport(outcomes: state.finish())
    }

    struct StepFailure: Error {
        var message: String
        var attempts: Int
    }

    private static func attempt(
        _ item: WorkItem,
        limits: ExecutionLimits,
        events: @Sendable (ExecutionEvent) async -> Void,
        step: (WorkItem, Int) async throws -> Void
    ) async -> Result<Int, StepFailure> {
        var backoff = limits.initialBackoff
        var attempt = 1
        while true {
            await events(.started(id: item.id, attempt: attempt))
            do {
                try await step(item, attempt)
                return .success(attempt)
            } catch let error as StepError where error.retryable && attempt < limits.maxAttempts {
                await events(.retrying(id: item.id, attempt: attempt, message: error.message, after: backoff))
                do {
                    try await Task.sleep(for: backoff)
                } catch {
                    return .failure(StepFailure(message: "cancelled while waiting to retry", attempts: attempt))
                }
                backoff = min(backoff * 2, limits.maxBackoff)
                attempt += 1
            } catch let error as StepError {
                return .failure(StepFailure(message: error.message, attempts: attempt))
            } catch is CancellationError {
                return .failure(StepFailure(message: "cancelled", attempts: attempt))
            } catch {
                return .failure(StepFailure(message: "\(error)", attempts: attempt))
            }
        }
    }
}

/// The scheduler's bookkeeping: remaining dependencies, ready queue, running counts.
/// Owned by one run; not shared.
struct SchedulerState {
    private let items: [String: WorkItem]
    private let limits: ExecutionLimits
    private var remaining: [String: Int] = [:]
    private var dependents: [String: [String]] = [:]
    /// Ready items in the order they became ready (then input order), per group.
    private var ready: [String: [String]] = [:]
    private var readyHeads: [String: Int] = [:]
    private var groupOrder: [String] = []
    private var running: [String: Int] = [:]
    private var runningTotal = 0
    private var outcomes: [String: ItemOutcome] = [:]

    init(items: [WorkItem], completed: Set<String>, limits: ExecutionLimits) {
        self.limits = limits
        var byID: [String: WorkItem] = [:]
        for item in items where !completed.contains(item.id) {
            precondition(byID[item.id] == nil, "duplicate work item \(item.id)")
            byID[item.id] = item
        }
        self.items = byID
        for item in items where byID[item.id] != nil {
            var count = 0
            for dependency in item.dependencies where !completed.contains(dependency) {
                precondition(byID[dependency] != nil, "\(item.id) depends on unknown item \(dependency)")
                dependents[dependency, default: []].append(item.id)
                count += 1
            }
            remaining[item.id] = count
            if count == 0 { enqueue(item) }
        }
    }

    private mutating func enqueue(_ item: WorkItem) {
        if ready[item.group] == nil {
            ready[item.group] = []
            readyHeads[item.group] = 0
            groupOrder.append(item.group)
        }
        ready[item.group]!.append(item.id)
    }

    /// The next item that may start under the limits, if any; marks it running.
    mutating func nextStartable() -> WorkItem? {
        guard runningTotal < limits.maxConcurrent else { return nil }
        for group in groupOrder {
            let head = readyHeads[group]!
            guard head < ready[group]!.count, running[group, default: 0] < limits.limit(for: group) else { continue }
            let id = ready[group]![head]
            readyHeads[group] = head + 1
            if head + 1 == ready[group]!.count {
                ready[group] = []
                readyHeads[group] = 0
            }
            running[group, default: 0] += 1
            runningTotal += 1
            return items[id]!
        }
        return nil
    }

    mutating func succeeded(_ id: String, attempts: Int) {
        finishRunning(id)
        outcomes[id] = .succeeded(attempts: attempts)
        for dependent in dependents[id] ?? [] {
            remaining[dependent]! -= 1
            if remaining[dependent] == 0 && outcomes[dependent] == nil { enqueue(items[dependent]!) }
        }
    }

    /// Records a failure; returns the items now blocked by it, in a stable order.
    mutating func failed(_ id: String, message: String, attempts: Int) -> [String] {
        finishRunning(id)
        outcomes[id] = .failed(message: message, attempts: attempts)
        var blocked: [String] = []
        var stack = dependents[id] ?? []
        while let next = stack.popLast() {
            guard outcomes[next] == nil else { continue }
            outcomes[next] = .blocked(dependency: id)
            blocked.append(next)
            stack.append(contentsOf: dependents[next] ?? [])
        }
        return blocked.sorted()
    }

    private mutating func finishRunning(_ id: String) {
        running[items[id]!.group]! -= 1
        runningTotal -= 1
    }

    /// Every item's outcome; items never reached are `notStarted`.
    func finish() -> [String: ItemOutcome] {
        var all = outcomes
        for id in items.keys where all[id] == nil { all[id] = .notStarted }
        return all
    }
}
