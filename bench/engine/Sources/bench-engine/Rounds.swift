/// Runs a measurement's rounds as bench/run-rpc does: each waits until the machine is
/// quiet, and a round that other work disturbed is recorded as discarded and run again.
struct Rounds {
    /// Other work above this many CPUs during a round disturbs it.
    static let quietCPUs = 0.15

    let count: Int
    /// How long to wait for a quiet machine before a round; after that it runs anyway.
    let quietWait: Duration
    /// Extra attempts for a disturbed round.
    let retries: Int

    /// `count` rounds of `body` that were kept. `record` sees every attempt with its
    /// round number and whether it was discarded.
    func run<Value>(
        _ label: String,
        _ body: () async throws -> Value,
        otherCPUs: (Value) -> Double,
        record: (Value, _ round: Int, _ discarded: Bool) -> Void
    ) async throws -> [Value] {
        var kept: [Value] = []
        for round in 0..<count {
            for attempt in 0...retries {
                try await waitForQuiet()
                let value = try await body()
                let other = otherCPUs(value)
                let discarded = other > Self.quietCPUs && attempt < retries
                record(value, round, discarded)
                if !discarded {
                    kept.append(value)
                    break
                }
                progress("  \(label) round \(round + 1): \(Format.cpus(other)) of other work; running it again")
            }
        }
        return kept
    }

    private func waitForQuiet() async throws {
        let deadline = ContinuousClock.now + quietWait
        var warned = false
        while true {
            let window = OtherWork()
            try await Task.sleep(for: .milliseconds(500))
            let other = window.cpus()
            if other <= Self.quietCPUs { return }
            if ContinuousClock.now >= deadline {
                progress("  the machine is still busy (\(Format.cpus(other)) of other work); measuring anyway")
                return
            }
            if !warned {
                progress("  waiting for other work to stop (\(Format.cpus(other)))")
                warned = true
            }
        }
    }
}
