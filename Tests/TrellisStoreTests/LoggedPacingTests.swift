import Foundation
import Synchronization
import Testing
import TrellisTestSupport

@testable import TrellisStore

/// The database thread's side of a job queue: `takeAll()` on a thread of its own, and what
/// it took, once it returns.
private final class Taker: Sendable {
    private let taken = Mutex<[DatabaseJob]?>(nil)

    init(_ queue: DatabaseJobQueue) {
        Thread.detachNewThread { [self] in
            let jobs = queue.takeAll()
            taken.withLock { $0 = jobs }
        }
    }

    var jobs: [DatabaseJob]? { taken.withLock { $0 } }
}

private func logged(_ sequence: UInt64) -> DatabaseJob {
    .write(PendingWrite(batch: StoreBatch([], durability: .logged), owner: .log(sequence: sequence)))
}

private func sequences(_ jobs: [DatabaseJob]) -> [UInt64?] {
    jobs.map { job in
        if case .write(let write) = job { return write.logSequence }
        return nil
    }
}

/// Long enough that no test below sees a wait end by the clock unless it means to.
private let forever = Duration.seconds(600)

@Suite("Logged batches wait for the database thread to be due")
struct LoggedPacingTests {
    /// A queue with logged batches 1 to 3 and the database thread's side waiting on it, still
    /// waiting a while later: with `pacing`, nothing is due yet.
    private func waitingOnThree(_ pacing: DatabaseJobQueue.LoggedPacing) async throws -> (DatabaseJobQueue, Taker) {
        let queue = DatabaseJobQueue(pacing: pacing)
        for sequence in 1...3 { #expect(queue.enqueueLogged(logged(UInt64(sequence)))) }
        queue.wakeIfDue()
        let taker = Taker(queue)
        // Long enough for a thread that does not wait to have returned; it cannot return
        // by the clock, as every wait of `pacing` is far longer.
        try await Task.sleep(for: .milliseconds(200))
        #expect(taker.jobs == nil)
        return (queue, taker)
    }

    @Test("logged batches alone are not taken while their writers go on; a read queued behind them takes them along")
    func otherJobsTakeThemAlong() async throws {
        let (queue, taker) = try await waitingOnThree(.init(quiet: forever, longest: forever, batches: 100))
        #expect(queue.submit(.read({ _ in })))
        #expect(await eventually { taker.jobs != nil })
        #expect(sequences(taker.jobs ?? []) == [1, 2, 3, nil])
    }

    @Test("logged batches are taken once as many are queued as are taken at once")
    func takenAtTheCount() async throws {
        let (queue, taker) = try await waitingOnThree(.init(quiet: forever, longest: forever, batches: 4))
        #expect(queue.enqueueLogged(logged(4)))
        queue.wakeIfDue()
        #expect(await eventually { taker.jobs != nil })
        #expect(sequences(taker.jobs ?? []) == [1, 2, 3, 4])
    }

    @Test("logged batches are taken once their writers pause")
    func takenWhenQuiet() async throws {
        let queue = DatabaseJobQueue(pacing: .init(quiet: .milliseconds(20), longest: forever, batches: 100))
        let start = ContinuousClock.now
        let taker = Taker(queue)
        #expect(queue.enqueueLogged(logged(1)))
        queue.wakeIfDue()
        #expect(await eventually { taker.jobs != nil })
        #expect(ContinuousClock.now - start >= .milliseconds(20))
        #expect(sequences(taker.jobs ?? []) == [1])
    }

    @Test("logged batches are taken once the oldest has waited its longest, while writers keep coming")
    func takenWhenOldest() async throws {
        let queue = DatabaseJobQueue(pacing: .init(quiet: forever, longest: .milliseconds(100), batches: 1_000_000))
        let taker = Taker(queue)
        // A writer that never pauses long enough, until the thread has taken what it wrote.
        let deadline = ContinuousClock.now + .seconds(60)
        var written: UInt64 = 0
        while taker.jobs == nil && ContinuousClock.now < deadline {
            written += 1
            #expect(queue.enqueueLogged(logged(written)))
            queue.wakeIfDue()
            try await Task.sleep(for: .milliseconds(2))
        }
        let taken = sequences(taker.jobs ?? [])
        #expect(!taken.isEmpty, "still waiting after \(written) batches")
        #expect(taken == (1...UInt64(taken.count)).map { $0 })
    }

    @Test("a close ends the wait at once, with the logged batches before it")
    func closeTakesThem() async {
        let queue = DatabaseJobQueue(pacing: .init(quiet: forever, longest: forever, batches: 100))
        #expect(queue.enqueueLogged(logged(1)))
        queue.wakeIfDue()
        let taker = Taker(queue)
        #expect(queue.submitClose(nil))
        #expect(await eventually { taker.jobs != nil })
        #expect(taker.jobs?.count == 2)
    }
}
