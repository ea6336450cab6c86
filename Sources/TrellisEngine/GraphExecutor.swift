/// Runs a dependency graph of steps with as much parallelism as the graph and the limits
/// allow.
///
/// An item starts as soon as everything it depends on has succeeded (not layer by layer),
/// so a run takes about as long as the graph's critical path. A failed item's dependents,
/// direct and transitive, are never started (`blocked`); independent branches go on.
/// Retryable failures are retried with doubling backoff up to `maxAttempts`.
///
/// The task that ran a step goes straight on with the first item that step's success
/// lets start, and starts a task for each of the others: a chain runs in one task, with no
/// hop to a coordinating task between its steps. Steps, and the `events` they report, run
/// on several tasks at once.
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
    /// steps it starts next (`carried`, on their first attempt), each of which writes it
    /// with its own first record before acting on either. A chain of steps then makes one
    /// write per step instead of two. Every step started in the same pass gets the same
    /// records, since any of them may depend on one and none may act before that record
    /// is written: writing a record more than once must be harmless. Records no started
    /// step takes wait, while other steps run, up to `limits.settleDelay` for one that
    /// does (a step finishing soon may let another start); then, or when the run has
    /// nothing left running, they go to `settle`.
    ///
    /// A step that takes records must write them before it acts, before anything that may
    /// fail in a way worth retrying, and before anything that may wait long (it can write
    /// them alone first): a step that succeeds, at whichever attempt, has written them.
    /// Until a step that carried a record has succeeded, or its settlement has returned,
    /// every step started that depends on the record's item carries it too, so that none
    /// acts on a finished item whose record may not be written yet. Records whose carriers
    /// all failed are carried by the next steps started, or settled.
    public func run<Record: Sendable>(
        _ items: [WorkItem],
        completed: Set<String> = [],
        step: @escaping @Sendable (WorkItem, Int, [Record]) async throws -> Record?,
        settle: @escaping @Sendable ([Record]) async -> Void,
        events: @escaping @Sendable (ExecutionEvent) async -> Void = { _ in }
    ) async -> ExecutionReport {
        let run = ExecutionRun(
            state: SchedulerState(items: items, completed: completed, limits: limits), limits: limits, step: step,
            settle: settle, events: events)
        return await run.run()
    }

    struct StepFailure: Error {
        var message: String
        var attempts: Int
    }

    static func attempt(
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
/// Owned by one run; not shared. Items are numbered once, so that a transition costs
/// array lookups rather than hashing their names.
struct SchedulerState {
    private let limits: ExecutionLimits
    /// The items to run (not those completed before), in input order.
    private let items: [WorkItem]
    private let indexByID: [String: Int]
    /// Per item: its group's number, dependencies left, dependents, outcome.
    private let groupOf: [Int]
    private var remaining: [Int]
    private let dependents: [[Int]]
    private var outcomes: [ItemOutcome?]
    private var started: [Bool]
    /// Per group: its limit, its ready items in the order they became ready, running count.
    private let groupLimits: [Int]
    private var ready: [[Int]]
    private var readyHeads: [Int]
    private var running: [Int]
    private var runningTotal = 0

    init(items all: [WorkItem], completed: Set<String>, limits: ExecutionLimits) {
        self.limits = limits
        let items = completed.isEmpty ? all : all.filter { !completed.contains($0.id) }
        var indexByID: [String: Int] = [:]
        indexByID.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            let earlier = indexByID.updateValue(index, forKey: item.id)
            precondition(earlier == nil, "duplicate work item \(item.id)")
        }
        var groupNumbers: [String: Int] = [:]
        var groupLimits: [Int] = []
        var groupOf: [Int] = []
        groupOf.reserveCapacity(items.count)
        var remaining = [Int](repeating: 0, count: items.count)
        var dependents = [[Int]](repeating: [], count: items.count)
        for (index, item) in items.enumerated() {
            let group =
                groupNumbers[item.group]
                ?? {
                    let number = groupLimits.count
                    groupNumbers[item.group] = number
                    groupLimits.append(limits.limit(for: item.group))
                    return number
                }()
            groupOf.append(group)
            for dependency in item.dependencies where !completed.contains(dependency) {
                guard let other = indexByID[dependency] else {
                    preconditionFailure("\(item.id) depends on unknown item \(dependency)")
                }
                dependents[other].append(index)
                remaining[index] += 1
            }
        }
        self.items = items
        self.indexByID = indexByID
        self.groupOf = groupOf
        self.remaining = remaining
        self.dependents = dependents
        self.outcomes = [ItemOutcome?](repeating: nil, count: items.count)
        self.started = [Bool](repeating: false, count: items.count)
        self.groupLimits = groupLimits
        self.ready = [[Int]](repeating: [], count: groupLimits.count)
        self.readyHeads = [Int](repeating: 0, count: groupLimits.count)
        self.running = [Int](repeating: 0, count: groupLimits.count)
        for index in items.indices where remaining[index] == 0 { ready[groupOf[index]].append(index) }
    }

    /// The next item that may start under the limits, if any; marks it running.
    mutating func nextStartable() -> WorkItem? {
        guard runningTotal < limits.maxConcurrent else { return nil }
        for group in ready.indices {
            let head = readyHeads[group]
            guard head < ready[group].count, running[group] < groupLimits[group] else { continue }
            let index = ready[group][head]
            readyHeads[group] = head + 1
            if head + 1 == ready[group].count {
                ready[group].removeAll(keepingCapacity: true)
                readyHeads[group] = 0
            }
            running[group] += 1
            runningTotal += 1
            started[index] = true
            return items[index]
        }
        return nil
    }

    /// Whether an item that depends on `id` has yet to start (and is not blocked).
    func hasDependentsToStart(_ id: String) -> Bool {
        guard let index = indexByID[id] else { return false }
        return dependents[index].contains { !started[$0] && outcomes[$0] == nil }
    }

    mutating func succeeded(_ id: String, attempts: Int) {
        let index = indexByID[id]!
        finishRunning(index)
        outcomes[index] = .succeeded(attempts: attempts)
        for dependent in dependents[index] {
            remaining[dependent] -= 1
            if remaining[dependent] == 0 && outcomes[dependent] == nil { ready[groupOf[dependent]].append(dependent) }
        }
    }

    /// Records a failure; returns the items now blocked by it, in a stable order.
    mutating func failed(_ id: String, message: String, attempts: Int) -> [String] {
        let index = indexByID[id]!
        finishRunning(index)
        outcomes[index] = .failed(message: message, attempts: attempts)
        var blocked: [String] = []
        var stack = dependents[index]
        while let next = stack.popLast() {
            guard outcomes[next] == nil else { continue }
            outcomes[next] = .blocked(dependency: id)
            blocked.append(items[next].id)
            stack.append(contentsOf: dependents[next])
        }
        return blocked.sorted()
    }

    private mutating func finishRunning(_ index: Int) {
        running[groupOf[index]] -= 1
        runningTotal -= 1
    }

    /// Every item's outcome; items never reached are `notStarted`.
    func finish() -> [String: ItemOutcome] {
        var all: [String: ItemOutcome] = [:]
        all.reserveCapacity(items.count)
        for (index, item) in items.enumerated() { all[item.id] = outcomes[index] ?? .notStarted }
        return all
    }
}
