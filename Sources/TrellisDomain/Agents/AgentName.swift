/// Agent names: what they may hold, and the default taken from a host name.
///
/// A name is the common name of the agent's certificate and a DNS subject alternative
/// name in it: `[a-z0-9][a-z0-9.-]{0,62}`.
public enum AgentName {
    /// The longest name, in bytes.
    public static let maximumLength = 63

    /// Whether `name` is a valid agent name.
    public static func isValid(_ name: String) -> Bool { problem(name) == nil }

    /// Why `name` is not a valid agent name, or nil when it is.
    public static func problem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard let first = bytes.first else { return "an agent name cannot be empty" }
        guard bytes.count <= maximumLength else { return "agent name \(name) is longer than 63 characters" }
        guard isAlphanumeric(first),
            bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") })
        else {
            return "agent name \(name) must be lower-case letters, digits, '-' and '.', starting with a letter or digit"
        }
        return nil
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

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
