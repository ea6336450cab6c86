/// The delays a simulated agent waits between connection attempts, by the policy of
/// Trellis agents: the bound doubles from 100 ms up to 10 s, each delay is drawn
/// uniformly from zero to the bound ("full jitter"), and a connection that lasted 30 s
/// starts the series again from 100 ms.
struct ReconnectDelays {
    static let initial = 0.1
    static let maximum = 10.0
    static let resetAfter: Duration = .seconds(30)

    /// Attempts since the last reset.
    private(set) var attempt = 0

    /// The next delay, random in `0...min(maximum, initial × 2^attempt)`.
    mutating func next() -> Duration {
        let bound = min(Self.maximum, Self.initial * Double(1 << min(attempt, 30)))
        attempt += 1
        return .nanoseconds(Int64(Double.random(in: 0...bound) * 1e9))
    }

    mutating func reset() {
        attempt = 0
    }
}
