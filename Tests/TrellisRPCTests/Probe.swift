import Synchronization

/// Counters and flags a test handler updates and the test reads, from any thread.
final class Probe: Sendable {
    private let values = Mutex<[String: Int]>([:])

    func add(_ key: String, _ amount: Int = 1) {
        values.withLock { $0[key, default: 0] += amount }
    }

    func set(_ key: String, _ value: Int) {
        values.withLock { $0[key] = value }
    }

    /// Raises `key` to `value` if it is higher: a high-water mark.
    func raise(_ key: String, to value: Int) {
        values.withLock { $0[key] = max($0[key, default: 0], value) }
    }

    subscript(_ key: String) -> Int {
        values.withLock { $0[key, default: 0] }
    }
}
