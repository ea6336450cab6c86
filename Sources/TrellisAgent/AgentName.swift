import Glibc

/// Agent names: what they may hold, and the default taken from the host name.
///
/// A name is the common name of the agent's certificate and a DNS subject alternative
/// name in it: `[a-z0-9][a-z0-9.-]{0,62}`.
public enum AgentName {
    /// The longest name, in bytes.
    public static let maximumLength = 63

    /// Whether `name` is a valid agent name.
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= maximumLength, isAlphanumeric(first) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// The name derived from a host name: lower-cased, every character that may not
    /// appear replaced by `-`, cut to 63 bytes; a leading character that may not start
    /// a name becomes `x`. An empty host name gives `agent`.
    public static func derived(fromHostname hostname: String) -> String {
        var bytes: [UInt8] = hostname.lowercased().unicodeScalars.prefix(maximumLength).map { scalar in
            guard scalar.isASCII else { return UInt8(ascii: "-") }
            let byte = UInt8(scalar.value)
            return isAlphanumeric(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
                ? byte : UInt8(ascii: "-")
        }
        guard let first = bytes.first else { return "agent" }
        if !isAlphanumeric(first) { bytes[0] = UInt8(ascii: "x") }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// This host's name, as `gethostname` reports it; empty if it cannot be read.
    public static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
