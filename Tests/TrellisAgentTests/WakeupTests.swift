import Testing

@testable import TrellisAgent

@Suite("The observation loop's wakeup")
struct WakeupTests {
    @Test("a round that ended by its timeout leaves the next wait waiting its full time")
    func timeoutsDoNotAccumulate() async {
        let wakeup = Wakeup()
        let clock = ContinuousClock()
        for _ in 0..<3 {
            let elapsed = await clock.measure { await wakeup.wait(atMost: .milliseconds(100)) }
            // A sleep never ends early, so each wait must take its whole timeout.
            #expect(elapsed >= .milliseconds(100), "returned after \(elapsed)")
        }
    }

    @Test("a signal wakes the waiter; one sent while nobody waits is kept for the next wait")
    func signals() async {
        let wakeup = Wakeup()
        wakeup.signal()
        wakeup.signal()
        // Without a timeout only the kept signal can end this wait.
        await wakeup.wait(atMost: nil)
        // The next wait ends when it is signalled.
        let waiter = Task { await wakeup.wait(atMost: nil) }
        let watcher = Task {
            while !Task.isCancelled {
                wakeup.signal()
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        await waiter.value
        watcher.cancel()
    }

    @Test("cancelling a waiter without a timeout ends its wait")
    func cancellation() async {
        let wakeup = Wakeup()
        let waiter = Task { await wakeup.wait(atMost: nil) }
        waiter.cancel()
        await waiter.value
    }
}
