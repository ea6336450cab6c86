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
        let clock = ContinuousClock()
        let kept = await clock.measure { await wakeup.wait(atMost: .seconds(30)) }
        #expect(kept < .seconds(10))
        // The two signals merged into one: the next wait waits again, until signalled.
        let waiter = Task { await clock.measure { await wakeup.wait(atMost: .seconds(60)) } }
        let woke = await eventuallySignal(wakeup, waiter)
        #expect(woke < .seconds(30))
    }

    @Test("cancelling a waiter without a timeout ends its wait")
    func cancellation() async {
        let wakeup = Wakeup()
        let waiter = Task { await wakeup.wait(atMost: nil) }
        waiter.cancel()
        await waiter.value
    }

    /// Signals until the waiter returns (it may not be waiting yet at the first signal).
    private func eventuallySignal(_ wakeup: Wakeup, _ waiter: Task<Duration, Never>) async -> Duration {
        let watcher = Task {
            while !Task.isCancelled {
                wakeup.signal()
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        let elapsed = await waiter.value
        watcher.cancel()
        return elapsed
    }
}
