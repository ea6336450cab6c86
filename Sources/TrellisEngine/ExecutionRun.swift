import Synchronization

/// One run of ``GraphExecutor``: the scheduler's state behind a lock, shared by the tasks
/// that run the steps.
///
/// A task that finishes a step updates the state itself and goes straight on with the
/// first step that this released, starting a task for each of the others; a chain is run
/// by one task, with no hop to a coordinating task and back between its steps. The task
/// that called ``run()`` runs steps as well, and then waits for the others.
final class ExecutionRun<Record: Sendable>: Sendable {
    typealias Step = @Sendable (WorkItem, Int, [Record]) async throws -> Record?

    /// A step to start, with the records it carries on its first attempt.
    private struct Launch: Sendable {
        var item: WorkItem
        var carried: [Record]
    }

    private struct Shared {
        var state: SchedulerState
        /// Records of finished steps that no started step has taken.
        var unclaimed: [Record] = []
        /// Records being settled, by settlement: a step started meanwhile carries them too,
        /// so that it does not act before they are written.
        var settling: [Int: [Record]] = [:]
        var nextSettlement = 0
        /// Steps started and not yet ended.
        var running = 0
        /// Tasks of this run besides the caller's, by number, for cancelling them.
        var tasks: [Int: Task<Void, Never>] = [:]
        var nextTask = 0
        /// The task waiting `settleDelay` to settle `unclaimed`, if any.
        var tick: Int?
        var cancelled = false
        /// The caller, once it has nothing left to run, waiting for the other tasks.
        var waiter: CheckedContinuation<Void, Never>?

        /// Records a step started now carries: everything not yet known to be written.
        mutating func takeCarried() -> [Record] {
            var carried = unclaimed
            unclaimed = []
            for (_, records) in settling { carried += records }
            return carried
        }
    }

    private let shared: Mutex<Shared>
    private let limits: ExecutionLimits
    private let step: Step
    private let settle: @Sendable ([Record]) async -> Void
    private let events: @Sendable (ExecutionEvent) async -> Void

    init(
        state: SchedulerState, limits: ExecutionLimits, step: @escaping Step,
        settle: @escaping @Sendable ([Record]) async -> Void,
        events: @escaping @Sendable (ExecutionEvent) async -> Void
    ) {
        shared = Mutex(Shared(state: state))
        self.limits = limits
        self.step = step
        self.settle = settle
        self.events = events
    }

    /// Runs every item; returns when every step has ended and every record is settled.
    func run() async -> ExecutionReport {
        await withTaskCancellationHandler {
            let first = shared.withLock { shared in launchStartable(&shared) }
            if let first { await work(first) }
            await withCheckedContinuation { continuation in
                let done = shared.withLock { shared -> Bool in
                    guard !shared.tasks.isEmpty else { return true }
                    shared.waiter = continuation
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            let tasks = shared.withLock { shared in
                shared.cancelled = true
                return Array(shared.tasks.values)
            }
            for task in tasks { task.cancel() }
        }
        return ExecutionReport(outcomes: shared.withLock { $0.state.finish() })
    }

    /// Starts what may start now: a task for each but the first, which is returned for
    /// the caller to run.
    private func launchStartable(_ shared: inout Shared) -> Launch? {
        guard !shared.cancelled else { return nil }
        var items: [WorkItem] = []
        while let item = shared.state.nextStartable() { items.append(item) }
        guard let first = items.first else { return nil }
        shared.running += items.count
        let carried = shared.takeCarried()
        for item in items.dropFirst() {
            let launch = Launch(item: item, carried: carried)
            startTask(&shared) { run in await run.work(launch) }
        }
        return Launch(item: first, carried: carried)
    }

    private func startTask(_ shared: inout Shared, _ body: @escaping @Sendable (ExecutionRun) async -> Void) {
        let number = shared.nextTask
        shared.nextTask += 1
        // The new task cannot take the lock before this one lets go, so it finds itself
        // in `tasks` when it ends.
        shared.tasks[number] = Task { [self] in
            await body(self)
            taskEnded(number)
        }
    }

    private func taskEnded(_ number: Int) {
        let waiter = shared.withLock { shared -> CheckedContinuation<Void, Never>? in
            shared.tasks[number] = nil
            if shared.tick == number { shared.tick = nil }
            guard shared.tasks.isEmpty else { return nil }
            defer { shared.waiter = nil }
            return shared.waiter
        }
        waiter?.resume()
    }

    /// Runs `launch`, then whatever its end lets this task go on with.
    private func work(_ launch: Launch) async {
        var next: Launch? = launch
        while let launch = next {
            var record: Record?
            let result = await GraphExecutor.attempt(launch.item, limits: limits, events: events) { item, attempt in
                record = try await step(item, attempt, attempt == 1 ? launch.carried : [])
            }
            next = await ended(launch.item, result, record)
        }
    }

    /// Tells `events` how `item` ended, records it, and starts what may start now; returns
    /// the step for the calling task to run next.
    private func ended(
        _ item: WorkItem, _ result: Result<Int, GraphExecutor.StepFailure>, _ record: Record?
    ) async -> Launch? {
        switch result {
        case .success(let attempts):
            await events(.succeeded(id: item.id, attempts: attempts))
            return await settleOrLaunch { shared in
                if let record { shared.unclaimed.append(record) }
                shared.state.succeeded(item.id, attempts: attempts)
            }
        case .failure(let failure):
            await events(.failed(id: item.id, message: failure.message, attempts: failure.attempts))
            let blocked = shared.withLock { shared in
                shared.state.failed(item.id, message: failure.message, attempts: failure.attempts)
            }
            for id in blocked { await events(.blocked(id: id, dependency: item.id)) }
            return await settleOrLaunch { _ in }
        }
    }

    /// Ends a step with `update` to the state; then starts what may start, which carries
    /// the unclaimed records. Records nobody takes wait, while steps run, for a tick
    /// `settleDelay` after the first of them; with no step left (or none to wait for) they
    /// are settled here and now.
    private func settleOrLaunch(_ update: (inout Shared) -> Void) async -> Launch? {
        let (next, settlement) = shared.withLock { shared -> (Launch?, (number: Int, records: [Record])?) in
            update(&shared)
            shared.running -= 1
            let next = launchStartable(&shared)
            guard !shared.unclaimed.isEmpty else { return (next, nil) }
            if shared.running > 0 && limits.settleDelay > .zero && !shared.cancelled {
                if shared.tick == nil { startTick(&shared) }
                return (next, nil)
            }
            return (next, takeSettlement(&shared))
        }
        if let settlement { await settled(settlement) }
        if next == nil { endTickIfIdle() }
        return next
    }

    private func takeSettlement(_ shared: inout Shared) -> (number: Int, records: [Record])? {
        guard !shared.unclaimed.isEmpty else { return nil }
        let number = shared.nextSettlement
        shared.nextSettlement += 1
        let records = shared.unclaimed
        shared.unclaimed = []
        shared.settling[number] = records
        return (number, records)
    }

    private func settled(_ settlement: (number: Int, records: [Record])) async {
        await settle(settlement.records)
        shared.withLock { _ = $0.settling.removeValue(forKey: settlement.number) }
    }

    private func startTick(_ shared: inout Shared) {
        shared.tick = shared.nextTask
        startTask(&shared) { run in
            try? await Task.sleep(for: run.limits.settleDelay)
            let settlement = run.shared.withLock { shared in
                shared.tick = nil
                return run.takeSettlement(&shared)
            }
            if let settlement { await run.settled(settlement) }
        }
    }

    /// With no step left, the run is over: the tick's wait, if any, ends now.
    private func endTickIfIdle() {
        let tick = shared.withLock { shared -> Task<Void, Never>? in
            guard shared.running == 0, let tick = shared.tick else { return nil }
            return shared.tasks[tick]
        }
        tick?.cancel()
    }
}
