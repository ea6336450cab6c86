/// Durations as specs write them: a sequence of numbers with units, `400ms`, `30s`, `72h`,
/// `1h30m`, `1.5s`. Units are `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h` and `d` (24 hours).
public enum SpecDuration {
    private static let units: [(suffix: String, nanoseconds: Int64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("h", 3_600_000_000_000), ("d", 86_400_000_000_000),
    ]

    /// The duration `text` denotes, or nil when it is not a duration (negative ones included).
    public static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var total: Int64 = 0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number.first != ".", number.last != "." else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard let unit = units.first(where: { $0.suffix == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)

            let parts = number.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count <= 2, let whole = Int64(parts[0]) else { return nil }
            var (nanoseconds, overflow) = whole.multipliedReportingOverflow(by: unit.nanoseconds)
            guard !overflow else { return nil }
            if parts.count == 2 {
                // Fractions finer than a nanosecond are dropped.
                var scale = unit.nanoseconds
                for digit in parts[1] {
                    scale /= 10
                    guard scale > 0 else { break }
                    nanoseconds += Int64(digit.wholeNumberValue!) * scale
                }
            }
            (total, overflow) = total.addingReportingOverflow(nanoseconds)
            guard !overflow else { return nil }
        }
        return .nanoseconds(total)
    }

    /// `duration` in the shortest form that `parse` reads back exactly, like `1h30m` or
    /// `400ms`; zero is `0s`.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        var nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        guard nanoseconds > 0 else { return "0s" }
        var text = ""
        for (suffix, size) in [("h", Int64(3_600_000_000_000)), ("m", 60_000_000_000), ("s", 1_000_000_000)] {
            if nanoseconds >= size {
                text += "\(nanoseconds / size)\(suffix)"
                nanoseconds %= size
            }
        }
        if nanoseconds > 0 {
            if nanoseconds % 1_000_000 == 0 {
                text += "\(nanoseconds / 1_000_000)ms"
            } else if nanoseconds % 1_000 == 0 {
                text += "\(nanoseconds / 1_000)us"
            } else {
                text += "\(nanoseconds)ns"
            }
        }
        return text
    }
}
