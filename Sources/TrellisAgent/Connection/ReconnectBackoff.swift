/// Delays between connection attempts: exponential from ``initial`` to ``maximum``, each
/// drawn uniformly from zero to the current bound ("full jitter"), so that agents cut
/// off together do not return together.
///
/// A connection that lasted ``resetAfter`` starts the next series from ``initial``.
public struct ReconnectBackoff: Sendable, Hashable {
    /// The first bound.
    public var initial: Duration
    /// The largest bound.
    public var maximum: Duration
    /// A connection that lasted this long resets the series.
    public var resetAfter: Duration

    /// Creates a backoff; the defaults are 100 ms to 10 s, reset after 30 s.
    public init(
        initial: Duration = .milliseconds(100), maximum: Duration = .seconds(10), resetAfter: Duration = .seconds(30)
    ) {
        self.initial = initial
        self.maximum = maximum
        self.resetAfter = resetAfter
    }

    /// The series of delays, from the start.
    struct Series {
        let backoff: ReconnectBackoff
        /// The number of attempts since the last reset.
        private(set) var attempt = 0

        init(_ backoff: ReconnectBackoff) {
            self.backoff = backoff
        }

        /// The bound for the current attempt: `initial × 2^attempt`, at most `maximum`.
        var bound: Duration {
            let initial = Self.seconds(backoff.initial)
            let maximum = Self.seconds(backoff.maximum)
            return .nanoseconds(Int64(min(maximum, initial * Double(1 << min(attempt, 30))) * 1e9))
        }

        /// The next delay, random in `0...bound`.
        mutating func next() -> Duration {
            let bound = Self.seconds(self.bound)
            attempt += 1
            return .nanoseconds(Int64(Double.random(in: 0...bound) * 1e9))
        }

        mutating func reset() {
            attempt = 0
        }

        private static func seconds(_ duration: Duration) -> Double {
            let (seconds, attoseconds) = duration.components
            return Double(seconds) + Double(attoseconds) / 1e18
        }
    }
}
