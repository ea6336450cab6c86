import Synchronization
import Testing
import TrellisTestSupport

@testable import TrellisRPC

/// Numbers recorded from timer callbacks.
private final class Fired: Sendable {
    private let storage = Mutex<[Int]>([])
    func append(_ value: Int) { storage.withLock { $0.append(value) } }
    var values: [Int] { storage.withLock { $0 } }
}

/// Lines appended in order from any thread.
private final class Log: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ line: String) { storage.withLock { $0.append(line) } }
    var values: [String] { storage.withLock { $0 } }
}

/// A nonisolated async function that never suspends.
@inline(never)
private func passThrough(_ value: Int) async -> Int { value }

/// An actor that runs on a given event loop.
private actor OnLoop {
    nonisolated let loop: EventLoop
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
    var counter = 0

    init(loop: EventLoop) { self.loop = loop }

    func increment() -> Bool {
        counter += 1
        return loop.inEventLoop
    }
}

@Suite("Event loops")
struct EventLoopTests {
    @Test("timers fire in deadline order and cancelled timers never fire")
    func timerOrder() async throws {
        let loop = try EventLoop(name: "timers")
        let fired = Fired()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            loop.execute {
                let now = ContinuousClock.now
                loop.scheduleTimer(at: now + .milliseconds(30)) { fired.append(3) }
                loop.scheduleTimer(at: now + .milliseconds(10)) { fired.append(1) }
                let cancelled = loop.scheduleTimer(at: now + .milliseconds(15)) { fired.append(99) }
                loop.scheduleTimer(at: now + .milliseconds(20)) { fired.append(2) }
                loop.cancelTimer(cancelled)
                loop.scheduleTimer(at: now + .milliseconds(40)) { done.resume() }
            }
        }
        #expect(fired.values == [1, 2, 3])
        await loop.shutdown()
    }

    @Test("a task on a loop sleeps on the loop's timers and wakes on its thread; one elsewhere sleeps too")
    func sleepOnLoop() async throws {
        let loop = try EventLoop(name: "sleeper")
        #expect(EventLoop.current == nil)
        let onLoop = await Task(executorPreference: loop.taskExecutor) { () -> (Bool, Bool, Duration) in
            let current = EventLoop.current === loop
            let start = ContinuousClock.now
            await loop.sleep(for: .milliseconds(20))
            return (current, loop.inEventLoop, ContinuousClock.now - start)
        }.value
        #expect(onLoop.0, "EventLoop.current is not the loop inside a task that prefers it")
        #expect(onLoop.1, "the task did not wake on the loop thread")
        #expect(onLoop.2 >= .milliseconds(20))

        let start = ContinuousClock.now
        await loop.sleep(for: .milliseconds(20))
        #expect(ContinuousClock.now - start >= .milliseconds(20))
        #expect(!loop.inEventLoop)
        await loop.shutdown()
    }

    @Test(
        "a task asleep on a loop that shuts down wakes then; on a loop that has ended it does not wait",
        .timeLimit(.minutes(2)))
    func sleepOutlivedByLoop() async throws {
        let loop = try EventLoop(name: "ending")
        let started = ContinuousClock.now
        let sleeper = Task { await loop.sleep(for: .seconds(600)) }
        #expect(await eventually(poll: .milliseconds(1)) { loop.sleeperCount == 1 })
        await loop.shutdown()
        await sleeper.value
        #expect(ContinuousClock.now - started < .seconds(60))

        let after = ContinuousClock.now
        await loop.sleep(for: .seconds(600))
        #expect(ContinuousClock.now - after < .seconds(60))
        #expect(loop.sleeperCount == 0)
    }

    @Test("work submitted from many threads all runs on the loop thread")
    func executeFromManyThreads() async throws {
        let loop = try EventLoop(name: "execute")
        let probe = Probe()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<500 {
                        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                            loop.execute {
                                if !loop.inEventLoop { probe.add("off loop") }
                                probe.add("ran")
                                done.resume()
                            }
                        }
                    }
                }
            }
        }
        #expect(probe["ran"] == 4000)
        #expect(probe["off loop"] == 0)
        await loop.shutdown()
    }

    @Test("an actor whose executor is a loop runs on that loop's thread")
    func actorIsolation() async throws {
        let loop = try EventLoop(name: "actor")
        let actor = OnLoop(loop: loop)
        var allOnLoop = true
        for _ in 0..<100 { allOnLoop = await actor.increment() && allOnLoop }
        #expect(allOnLoop)
        #expect(await actor.counter == 100)
        await loop.shutdown()
    }

    @Test("a task preferring a loop as its executor runs there")
    func taskExecutorPreference() async throws {
        let loop = try EventLoop(name: "prefer")
        let onLoop = await Task(executorPreference: loop.taskExecutor) { loop.inEventLoop }.value
        #expect(onLoop)
        await loop.shutdown()
    }

    @Test("a task preferring a loop runs on through nonisolated async calls without giving up the loop")
    func nonisolatedCallsRunInline() async throws {
        let loop = try EventLoop(name: "inline")
        let log = Log()
        let tasks = await withCheckedContinuation { (started: CheckedContinuation<[Task<Void, Never>], Never>) in
            loop.execute {
                // Both tasks' first jobs are queued now, the first task's ahead.
                let first = Task(executorPreference: loop.taskExecutor) {
                    log.append("first: before")
                    _ = await passThrough(1)
                    log.append("first: after")
                }
                let second = Task(executorPreference: loop.taskExecutor) { log.append("second") }
                started.resume(returning: [first, second])
            }
        }
        for task in tasks { await task.value }
        #expect(log.values == ["first: before", "first: after", "second"])
        await loop.shutdown()
    }

    @Test("backoff delays grow to the maximum and stay within the jitter")
    func backoff() {
        var delays = ConnectionBackoff(initial: .milliseconds(100), maximum: .seconds(1), multiplier: 2, jitter: 0.2)
            .makeIterator()
        let observed = (0..<8).map { _ in delays.next() }
        #expect(observed[0] >= .milliseconds(80) && observed[0] <= .milliseconds(120))
        #expect(observed[1] >= .milliseconds(160) && observed[1] <= .milliseconds(240))
        for delay in observed[4...] {
            #expect(delay >= .milliseconds(800) && delay <= .milliseconds(1200))
        }
    }
}

@Suite("Timer queue")
struct TimerQueueTests {
    @Test("cancelled timers do not accumulate, and the rest still fire in order")
    func cancelledTimersAreReclaimed() {
        var queue = TimerQueue()
        let start = ContinuousClock.now
        var ids: [TimerID] = []
        for index in 0..<10_000 { ids.append(queue.schedule(at: start + .seconds(30 + index % 7)) {}) }
        for id in ids.dropFirst(3) { queue.cancel(id) }
        #expect(queue.count == 3)
        #expect(queue.heapSize < 200)
        let fired = Probe()
        var order: [Int] = []
        _ = queue.schedule(at: start + .milliseconds(2)) { fired.add("late") }
        _ = queue.schedule(at: start + .milliseconds(1)) { fired.add("early") }
        for body in queue.takeDue(now: start + .milliseconds(5)) {
            body()
            order.append(fired["early"] + fired["late"])
        }
        #expect(order == [1, 2])
        #expect(fired["early"] == 1 && fired["late"] == 1)
        #expect(queue.count == 3)
    }
}
