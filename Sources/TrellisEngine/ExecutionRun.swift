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

    /// A record taken by started steps whose item has dependents yet to start, numbered
    /// so that the steps that carry it can tell the run that they wrote this one.
    private struct Outstanding: Sendable {
        var number: Int
        var record: Record
    }

    /// A step to start, with the records it carries on its first attempt: first those of
    /// its pass (the unclaimed records every step started with it carries), whose items
    /// are `passItems`, then any of its dependencies' outstanding ones; and the items and
    /// numbers of the outstanding ones among them.
    private struct Launch: Sendable {
        var item: WorkItem
        var pass: Int
        var carried: [Record]
        var passItems: [String]
        var outstanding: [(item: String, number: Int)]
    }

    /// What became of the records a pass of starts handed out.
    private enum PassState {
        /// No step of the pass has ended yet.
        case open
        /// A step of the pass succeeded, so it wrote them.
        case written
        /// A step of the pass failed before any succeeded: they went back to `unclaimed`.
        case returned
    }

    private struct Shared {
        var state: SchedulerState
        /// Records of finished steps that no started step has taken, and their items. The
        /// items are kept beside the records rather than with them so that the bookkeeping
        /// stays on arrays of strings: this generic code is not specialised for the
        /// engine's record type, and generic structs in dictionaries and arrays cost a
        /// chain of 10,000 resources about a fifth of its time.
        var unclaimed: [Record] = []
        var unclaimedItems: [String] = []
        /// Records taken by started steps or being settled, not yet known to be written,
        /// whose items have dependents yet to start; by item. A step that succeeded has
        /// written what it carried, and a settlement that returned has written its
        /// records (a pass whose first step to end failed hands its records back to
        /// `unclaimed` instead); until then a step started that depends on the item
        /// carries its record too, so that it does not act on the item before that record
        /// is written.
        var outstanding: [String: Outstanding] = [:]
        var nextRecord = 0
        /// Per pass of starts, what became of the records its steps carried.
        var passes: [PassState] = []
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

        /// The unclaimed records and their items; those whose items have dependents yet to
        /// start are outstanding from now on, and listed with their numbers.
        mutating func takeUnclaimed() -> (
            records: [Record], items: [String], outstanding: [(item: String, number: Int)]
        ) {
            let records = unclaimed
            let items = unclaimedItems
            unclaimed = []
            unclaimedItems = []
            var registered: [(item: String, number: Int)] = []
            for (position, item) in items.enumerated() where state.hasDependentsToStart(item) {
                outstanding[item] = Outstanding(number: nextRecord, record: records[position])
                registered.append((item, nextRecord))
                nextRecord += 1
            }
            return (records, items, registered)
        }

        /// The records listed are no longer outstanding: written, or back among the
        /// unclaimed.
        mutating func retire(_ records: some Sequence<(item: String, number: Int)>) {
            guard !outstanding.isEmpty else { return }
            for (item, number) in records where outstanding[item]?.number == number {
                outstanding[item] = nil
            }
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

    /// How many tasks the run has started besides its caller's, settle ticks included.
    var tasksStarted: Int { shared.withLock { $0.nextTask } }

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
            // Every record was written by a step that carried it or by a settlement.
            assert(shared.withLock { $0.outstanding.isEmpty }, "records left outstanding at the end of a run")
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
    /// the caller to run. Every step started carries the unclaimed records, and the
    /// outstanding ones of the items it depends on.
    private func launchStartable(_ shared: inout Shared) -> Launch? {
        guard !shared.cancelled else { return nil }
        var items: [WorkItem] = []
        while let item = shared.state.nextStartable() { items.append(item) }
        guard !items.isEmpty else { return nil }
        shared.running += items.count
        let taken = shared.takeUnclaimed()
        let pass = shared.passes.count
        shared.passes.append(.open)
        func launch(_ item: WorkItem) -> Launch {
            var launch = Launch(
                item: item, pass: pass, carried: taken.records, passItems: taken.items,
                outstanding: taken.outstanding)
            guard !shared.outstanding.isEmpty else { return launch }
            for dependency in item.dependencies where !taken.items.contains(dependency) {
                guard let earlier = shared.outstanding[dependency] else { continue }
                launch.carried.append(earlier.record)
                launch.outstanding.append((dependency, earlier.number))
            }
            return launch
        }
        for item in items.dropFirst() {
            let next = launch(item)
            startTask(&shared) { run in await run.work(next) }
        }
        return launch(items[0])
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
            next = await ended(launch, result, record)
        }
    }

    /// Tells `events` how the launched item ended, records it, and starts what may start
    /// now; returns the step for the calling task to run next.
    private func ended(
        _ launch: Launch, _ result: Result<Int, GraphExecutor.StepFailure>, _ record: Record?
    ) async -> Launch? {
        let item = launch.item
        switch result {
        case .success(let attempts):
            await events(.succeeded(id: item.id, attempts: attempts))
            return await settleOrLaunch { shared in
                shared.passes[launch.pass] = .written
                shared.retire(launch.outstanding)
                if let record {
                    shared.unclaimed.append(record)
                    shared.unclaimedItems.append(item.id)
                }
                shared.state.succeeded(item.id, attempts: attempts)
            }
        case .failure(let failure):
            await events(.failed(id: item.id, message: failure.message, attempts: failure.attempts))
            let blocked = shared.withLock { shared in
                shared.state.failed(item.id, message: failure.message, attempts: failure.attempts)
            }
            for id in blocked { await events(.blocked(id: id, dependency: item.id)) }
            return await settleOrLaunch { shared in
                // Unless another step of its pass succeeded, the records of the pass may not
                // be written: they go back, to be carried by the next steps or settled.
                guard case .open = shared.passes[launch.pass] else { return }
                shared.passes[launch.pass] = .returned
                shared.retire(launch.outstanding.filter { launch.passItems.contains($0.item) })
                shared.unclaimed += launch.carried.prefix(launch.passItems.count)
                shared.unclaimedItems += launch.passItems
            }
        }
    }

    /// Ends a step with `update` to the state; then starts what may start, which carries
    /// the unclaimed records. Records nobody takes wait, while steps run, for a tick
    /// `settleDelay` after the first of them; with no step left (or none to wait for) they
    /// are settled here and now.
    private func settleOrLaunch(_ update: (inout Shared) -> Void) async -> Launch? {
        let (next, settlement) = shared.withLock { shared -> (Launch?, Settlement?) in
            update(&shared)
            shared.running -= 1
            let next = launchStartable(&shared)
            guard !shared.unclaimed.isEmpty else { return (next, nil) }
            if shared.running > 0 && limits.settleDelay > .zero && !shared.cancelled {
                if shared.tick == nil { startTick(&shared) }
                return (next, nil)
            }
            let taken = shared.takeUnclaimed()
            return (next, Settlement(records: taken.records, outstanding: taken.outstanding))
        }
        if let settlement { await settled(settlement) }
        if next == nil { endTickIfIdle() }
        return next
    }

    /// Records on their way to `settle`, and the outstanding ones among them.
    private struct Settlement: Sendable {
        var records: [Record]
        var outstanding: [(item: String, number: Int)]
    }

    private func settled(_ settlement: Settlement) async {
        await settle(settlement.records)
        shared.withLock { $0.retire(settlement.outstanding) }
    }

    private func startTick(_ shared: inout Shared) {
        shared.tick = shared.nextTask
        startTask(&shared) { run in
            try? await Task.sleep(for: run.limits.settleDelay)
            let taken = run.shared.withLock { shared in
                shared.tick = nil
                return shared.takeUnclaimed()
            }
            if !taken.records.isEmpty {
                await run.settled(Settlement(records: taken.records, outstanding: taken.outstanding))
            }
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
