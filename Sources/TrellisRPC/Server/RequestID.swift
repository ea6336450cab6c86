import Synchronization

/// Request ids for calls that arrive without one: a random prefix chosen once per
/// process and a counter, so ids are unique per process, unlikely to repeat across
/// processes, and cost no system call per call.
enum RequestID {
    private static let prefix: String = {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt32
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }()
    private static let counter = Atomic<UInt64>(0)

    /// `PPPPPPPP-N`: the process prefix and the call's number.
    static func make() -> String {
        let number = counter.add(1, ordering: .relaxed).newValue
        return "\(prefix)-\(String(number, radix: 16))"
    }
}
