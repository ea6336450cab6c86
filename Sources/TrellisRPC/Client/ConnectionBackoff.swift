/// Exponential backoff with jitter between connection attempts.
///
/// Delays grow from `initial` by `multiplier` up to `maximum`; each is spread by
/// ±`jitter` (a fraction) so that many clients cut off at once do not return in step.
public struct ConnectionBackoff: Sendable, Hashable {
    public var initial: Duration = .milliseconds(100)
    public var maximum: Duration = .seconds(10)
    public var multiplier: Double = 1.6
    public var jitter: Double = 0.2

    public init() {}

    public init(initial: Duration, maximum: Duration, multiplier: Double = 1.6, jitter: Double = 0.2) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The delays to wait before each retry, without end.
    public func makeIterator() -> Iterator {
        Iterator(backoff: self)
    }

    public struct Iterator: Sendable {
        let backoff: ConnectionBackoff
        private var current: Double

        init(backoff: ConnectionBackoff) {
            self.backoff = backoff
            self.current = Self.seconds(backoff.initial)
        }

        /// The next delay.
        public mutating func next() -> Duration {
            let maximum = Self.seconds(backoff.maximum)
            let base = min(current, maximum)
            current = min(current * backoff.multiplier, maximum)
            let spread = base * backoff.jitter
            let jittered = base + Double.random(in: -spread...spread)
            return .nanoseconds(Int64(max(0, jittered) * 1e9))
        }

        private static func seconds(_ duration: Duration) -> Double {
            let (seconds, attoseconds) = duration.components
            return Double(seconds) + Double(attoseconds) / 1e18
        }
    }
}
