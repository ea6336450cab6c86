#if canImport(Glibc)
import Glibc
#endif

/// Request ids for calls that arrive without one.
enum RequestID {
    /// 16 random hex digits.
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
