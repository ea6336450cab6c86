import Synchronization
import Testing
import TrellisTestSupport

@testable import TrellisEngine

/// What a run's steps did, recorded from many tasks at once.
private final class Recorder: Sendable {
    struct State {
        var starts: [String: ContinuousClock.Instant] = [:]
        var ends: [String: ContinuousClock.Instant] = [:]
        var running: [String: Int] = [:]
        var peak: [String: Int] = [:]
        var order: [String] = []
        var events: [ExecutionEvent] = []
    }

    let state = Mutex(State())

    func begin(_ id: String, group: String) {
        state.withLock { state in
            state.starts[id] = .now
            state.running[group, default: 0] += 1
            state.running["*", default: 0] += 1
            state.peak[group] = max(state.peak[group, default: 0], state.running[group]!)
            state.peak["*"] = max(state.peak["*", default: 0], state.running["*"]!)
        }
    }

    func end(_ id: String, group: String) {
        state.withLock { state in
            state.ends[id] = .now
            state.running[group]! -= 1
            state.running["*"]! -= 1
            state.order.append(id)
        }
    }

    func record(_ event: ExecutionEvent) { state.withLock { $0.events.append(event) } }

    var snapshot: State { state.withLock { $0 } }
}

private func sleepingStep(
    _ recorder: Recorder, delay: Duration = .milliseconds(20)
)
    -> @Sendable (WorkItem, Int) async throws -> Void
{
    { item, _ in
        recorder.begin(item.id, group: item.group)
        try await Task.sleep(for: delay)
        recorder.end(item.id, group: item.group)
    }
}

private func item(_ id: String, _ dependencies: [String] = [], group: String = "noop") -> WorkItem {
    WorkItem(id: id, dependencies: dependencies, group: group)
}

@Suite("Running dependency graphs")
struct GraphExecutorTests {
    @Test("an item starts only after everything it depends on has finished")
    func ordering() async {
        let recorder = Recorder()
        let items = [item("c", ["b"]), item("b", ["a"]), item("a"), item("d", ["a", "c"])]
        let report = await GraphExecutor().run(items, step: sleepingStep(recorder))
        #expect(report.allSucceeded)
        let state = recorder.snapshot
        #expect(state.order == ["a", "b", "c", "d"])
        #expect(state.starts["b"]! >= state.ends["a"]!)
        #expect(state.starts["d"]! >= state.ends["c"]!)
    }

    @Test("independent items run at the same time")
    func parallelism() async {
        let recorder = Recorder()
        var limits = ExecutionLimits()
        limits.defaultPerGroup = 64
        let items = (0..<40).map { item("r\($0)") }
        let report = await GraphExecutor(limits: limits).run(
            items, step: sleepingStep(recorder, delay: .milliseconds(100)))
        #expect(report.allSucceeded)
        #expect(recorder.snapshot.peak["*"] == 40)
    }

    @Test("the overall and per-group limits hold")
    func limits() async {
        var limits = ExecutionLimits()
        limits.maxConcurrent = 5
        limits.perGroup = ["db": 2]
        let recorder = Recorder()
        let items = (0..<10).map { item("db\($0)", group: "db") } + (0..<10).map { item("f\($0)", group: "file") }
        let report = await GraphExecutor(limits: limits).run(items, step: sleepingStep(recorder))
        #expect(report.allSucceeded)
        let peak = recorder.snapshot.peak
        #expect(peak["db"] == 2)
        #expect(peak["*"] == 5)
    }

    @Test("a failure blocks its dependents and lets independent branches finish")
    func failureIsolation() async {
        let recorder = Recorder()
        let items = [item("a"), item("b", ["a"]), item("c", ["b"]), item("d"), item("e", ["d"])]
        let report = await GraphExecutor().run(
            items,
            step: { work, _ in
                if work.id == "a" { throw StepError("disk full") }
                try await sleepingStep(recorder)(work, 1)
            },
            events: { recorder.record($0) })
        #expect(report.failed == ["a"])
        #expect(report.blocked == ["b", "c"])
        #expect(report.succeeded == ["d", "e"])
        #expect(report.outcomes["a"] == .failed(message: "disk full", attempts: 1))
        #expect(report.outcomes["c"] == .blocked(dependency: "a"))
        #expect(recorder.snapshot.starts["b"] == nil)
        #expect(recorder.snapshot.events.contains(.blocked(id: "c", dependency: "a")))
    }

    @Test("retryable failures are retried with backoff; others fail at once")
    func retries() async {
        var limits = ExecutionLimits()
        limits.maxAttempts = 3
        limits.initialBackoff = .milliseconds(10)
        let recorder = Recorder()
        let report = await GraphExecutor(limits: limits).run(
            [item("flaky"), item("broken"), item("hopeless")],
            step: { work, attempt in
                switch work.id {
                case "flaky" where attempt < 3: throw StepError("busy", retryable: true)
                case "broken": throw StepError("bad params")
                case "hopeless": throw StepError("timeout", retryable: true)
                default: return
                }
            },
            events: { recorder.record($0) })
        #expect(report.outcomes["flaky"] == .succeeded(attempts: 3))
        #expect(report.outcomes["broken"] == .failed(message: "bad params", attempts: 1))
        #expect(report.outcomes["hopeless"] == .failed(message: "timeout", attempts: 3))
        let retries = recorder.snapshot.events.filter {
            if case .retrying(id: "flaky", _, _, _) = $0 { true } else { false }
        }
        #expect(retries.count == 2)
    }

    @Test("completed items are not run again and their dependents proceed")
    func resume() async {
        let recorder = Recorder()
        let items = [item("a"), item("b", ["a"]), item("c", ["b"])]
        let report = await GraphExecutor().run(items, completed: ["a", "b"], step: sleepingStep(recorder))
        #expect(recorder.snapshot.order == ["c"])
        #expect(report.outcomes.keys.sorted() == ["c"])
    }

    @Test("reversed edges delete dependents before what they depend on")
    func reverseOrder() async {
        let recorder = Recorder()
        let forward = [item("db"), item("config", ["db"]), item("api", ["config", "db"])]
        let report = await GraphExecutor().run(WorkItem.reversed(forward), step: sleepingStep(recorder))
        #expect(report.allSucceeded)
        #expect(recorder.snapshot.order == ["api", "config", "db"])
    }

    @Test("10,000 items with no delay all complete")
    func manyItems() async {
        let items = (0..<10_000).map { index in item("r\(index)", index == 0 ? [] : ["r\(index / 2)"]) }
        let counter = Mutex(0)
        let counting: @Sendable (WorkItem, Int) async throws -> Void = { _, _ in counter.withLock { $0 += 1 } }
        let report = await GraphExecutor().run(items, step: counting)
        #expect(report.allSucceeded)
        #expect(counter.withLock { $0 } == 10_000)
    }

    @Test("a step's record is handed to the next step started, and settled when none starts")
    func recordsAreHandedOn() async {
        let carried = Mutex<[String: [String]]>([:])
        let settled = Mutex<[[String]]>([])
        let report = await GraphExecutor().run(
            [item("a"), item("b", ["a"]), item("c", ["b"])],
            step: { work, _, records -> String? in
                carried.withLock { $0[work.id] = records }
                return "\(work.id) done"
            },
            settle: { records in settled.withLock { $0.append(records) } })
        #expect(report.allSucceeded)
        // A chain: each step carries the one before it; the last one's record has nobody
        // to carry it.
        #expect(carried.withLock { $0 } == ["a": [], "b": ["a done"], "c": ["b done"]])
        #expect(settled.withLock { $0 } == [["c done"]])
    }

    @Test("a record goes to every step started with it, never to a later attempt, and is never dropped")
    func recordsGoToEveryStarter() async {
        var limits = ExecutionLimits()
        limits.initialBackoff = .milliseconds(5)
        let settled = Mutex<[String]>([])
        let attempts = Mutex<[String: [[String]]]>([:])
        let report = await GraphExecutor(limits: limits).run(
            // a fans out to b, c and d; c fails once, retryably.
            [item("a"), item("b", ["a"]), item("c", ["a"]), item("d", ["a"])],
            step: { work, attempt, records -> String? in
                attempts.withLock { $0[work.id, default: []].append(records) }
                if work.id == "c" && attempt == 1 { throw StepError("busy", retryable: true) }
                return work.id
            },
            settle: { records in settled.withLock { $0 += records } })
        #expect(report.allSucceeded)
        #expect(report.outcomes["c"] == .succeeded(attempts: 2))
        let attemptsByID = attempts.withLock { $0 }
        // b, c and d all depend on a and start in one pass: each writes a's record before
        // it acts, so none can act on a finished a that a crash would then run again.
        for id in ["b", "c", "d"] { #expect(attemptsByID[id]?.first == ["a"]) }
        #expect(attemptsByID["c"]?.last == [])
        // Every record is carried or settled: b's, c's and d's have nobody to carry them.
        let carried = attemptsByID.values.flatMap { $0.flatMap { $0 } }
        #expect(Set(carried + settled.withLock { $0 }) == ["a", "b", "c", "d"])
        #expect(settled.withLock { $0 }.sorted() == ["b", "c", "d"])
    }

    @Test("a record no step takes waits up to the settle delay for one to start and carry it")
    func recordsWaitToBeCarried() async {
        // c needs a and b. a ends at once; b ends once a's record has been settled, or
        // (with the long delay, where it is not) after 50 ms.
        let items = [item("a"), item("b"), item("c", ["a", "b"])]
        func run(settleDelay: Duration) async -> (carried: [String: [String]], settled: [[String]]) {
            var limits = ExecutionLimits()
            limits.settleDelay = settleDelay
            let carried = Mutex<[String: [String]]>([:])
            let settled = Mutex<[[String]]>([])
            let report = await GraphExecutor(limits: limits).run(
                items,
                step: { work, _, records -> String? in
                    carried.withLock { $0[work.id] = records }
                    if work.id == "b" {
                        _ = await eventually(
                            timeout: settleDelay < .seconds(1) ? .seconds(60) : .milliseconds(50),
                            poll: .milliseconds(1)
                        ) { settled.withLock { $0.contains(["a"]) } }
                    }
                    return work.id
                },
                settle: { records in settled.withLock { $0.append(records) } })
            #expect(report.allSucceeded)
            return (carried.withLock { $0 }, settled.withLock { $0 })
        }
        // A short wait runs out while b runs: a's record is written alone.
        let short = await run(settleDelay: .milliseconds(2))
        #expect(short.settled == [["a"], ["c"]])
        // c may start while a's settlement is still ending, and then carries a's record too.
        #expect(short.carried["c"]?.last == "b")
        // A long one lasts until c starts, which carries both.
        let long = await run(settleDelay: .seconds(30))
        #expect(long.settled == [["c"]])
        #expect(long.carried["c"]?.sorted() == ["a", "b"])
    }

    @Test("a step started while records are being settled carries them, so that it waits for their write")
    func recordsBeingSettledAreCarried() async {
        // c needs a and b. a ends at once and its record is settled alone after the delay;
        // b ends while that settlement is in progress, and the settlement ends only once c
        // has started: c must carry a's record as well as b's.
        var limits = ExecutionLimits()
        limits.settleDelay = .milliseconds(2)
        let carried = Mutex<[String: [String]]>([:])
        let settling = Mutex<[[String]]>([])
        let settled = Mutex<[[String]]>([])
        @Sendable func wait(until condition: () -> Bool) async {
            _ = await eventually(poll: .milliseconds(1), condition)
        }
        let report = await GraphExecutor(limits: limits).run(
            [item("a"), item("b"), item("c", ["a", "b"])],
            step: { work, _, records -> String? in
                carried.withLock { $0[work.id] = records }
                if work.id == "b" { await wait { settling.withLock { $0 } == [["a"]] } }
                return work.id
            },
            settle: { records in
                settling.withLock { $0.append(records) }
                if records == ["a"] { await wait { carried.withLock { $0["c"] } != nil } }
                settled.withLock { $0.append(records) }
            })
        #expect(report.allSucceeded)
        // c, the last, is settled as soon as it ends, which may be before a's settlement ends.
        #expect(Set(settled.withLock { $0 }) == [["a"], ["c"]])
        #expect(carried.withLock { $0["c"] }?.sorted() == ["a", "b"])
    }

    @Test("until a carrier of a record has succeeded, every step started carries the record too")
    func recordsStayOutstandingUntilWritten() async {
        // b carries a's record and holds on until c has started; c, started later (when x
        // ends), depends on a as well, so it must carry a's record too.
        let carried = Mutex<[String: [String]]>([:])
        let settled = Mutex<[String]>([])
        let report = await GraphExecutor().run(
            [item("a"), item("x"), item("b", ["a"]), item("c", ["a", "x"])],
            step: { work, _, records -> String? in
                carried.withLock { $0[work.id] = records }
                switch work.id {
                case "x":
                    _ = await eventually(poll: .milliseconds(1)) { carried.withLock { $0["b"] } != nil }
                case "b":
                    _ = await eventually(poll: .milliseconds(1)) { carried.withLock { $0["c"] } != nil }
                default:
                    break
                }
                return work.id
            },
            settle: { records in settled.withLock { $0 += records } })
        #expect(report.allSucceeded)
        let byItem = carried.withLock { $0 }
        #expect(byItem["b"] == ["a"])
        #expect(byItem["c"]?.sorted() == ["a", "x"])
        #expect(settled.withLock { $0 }.sorted() == ["b", "c"])
    }

    @Test("a record whose carriers all failed is settled when the run ends")
    func recordsOfFailedCarriersAreSettled() async {
        let settled = Mutex<[String]>([])
        let report = await GraphExecutor().run(
            [item("a"), item("b", ["a"])],
            step: { work, _, _ -> String? in
                if work.id == "b" { throw StepError("refused") }
                return work.id
            },
            settle: { records in settled.withLock { $0 += records } })
        #expect(report.outcomes["a"] == .succeeded(attempts: 1))
        #expect(report.failed == ["b"])
        #expect(settled.withLock { $0 } == ["a"])
    }

    @Test("a chain runs without starting a task; a fan-out starts one task per item but the first")
    func tasksStartedByRuns() async {
        func tasksStarted(_ items: [WorkItem]) async -> Int {
            let run = ExecutionRun<Never>(
                state: SchedulerState(items: items, completed: [], limits: ExecutionLimits()),
                limits: ExecutionLimits(), step: { _, _, _ in nil }, settle: { _ in }, events: { _ in })
            let report = await run.run()
            #expect(report.allSucceeded)
            #expect(report.outcomes.count == items.count)
            return run.tasksStarted
        }
        let chain = (0..<1_000).map { item("r\($0)", $0 == 0 ? [] : ["r\($0 - 1)"]) }
        #expect(await tasksStarted(chain) == 0)
        // a, then f1 to f10 at once (the task that ran a runs f1), then l after all of them
        // (in the task that ran the last of them).
        let fan = [item("a")] + (1...10).map { item("f\($0)", ["a"]) } + [item("l", (1...10).map { "f\($0)" })]
        #expect(await tasksStarted(fan) == 9)
    }

    @Test("records of steps finished when the run is cancelled are settled, not dropped")
    func recordsSettledOnCancel() async {
        let settled = Mutex<[String]>([])
        let (started, starting) = AsyncStream.makeStream(of: Void.self)
        let task = Task {
            await GraphExecutor().run(
                [item("a"), item("b", ["a"])],
                step: { work, _, _ -> String? in
                    if work.id == "a" {
                        starting.yield()
                        // Runs until the run is cancelled, then finishes normally.
                        while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(1)) }
                    }
                    return work.id
                },
                settle: { records in settled.withLock { $0 += records } })
        }
        for await _ in started { break }
        task.cancel()
        let report = await task.value
        #expect(report.outcomes["a"] == .succeeded(attempts: 1))
        #expect(report.outcomes["b"] == .notStarted)
        #expect(settled.withLock { $0 } == ["a"])
    }
}
