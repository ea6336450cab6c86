/// Durations as specs write them: a sequence of numbers with units, `400ms`, `30s`, `72h`,
/// `1h30m`, `1.5s`. Units are `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h` and `d` (24 hours).
public enum SpecDuration {
    private static let units: [(suffix: [UInt8], nanoseconds: Int64)] = [
        (Array("ns".utf8), 1), (Array("us".utf8), 1_000), (Array("µs".utf8), 1_000), (Array("ms".utf8), 1_000_000),
        (Array("s".utf8), 1_000_000_000), (Array("m".utf8), 60_000_000_000), (Array("h".utf8), 3_600_000_000_000),
        (Array("d".utf8), 86_400_000_000_000),
    ]

    /// The duration `text` denotes, or nil when it is not a duration (negative ones included).
    public static func parse(_ text: String) -> Duration? {
        var text = text
        return text.withUTF8 { parse(bytes: $0) }
    }

    private static func parse(bytes: UnsafeBufferPointer<UInt8>) -> Duration? {
        func isNumeric(_ byte: UInt8) -> Bool { (byte >= 0x30 && byte <= 0x39) || byte == 0x2E }
        guard !bytes.isEmpty else { return nil }
        var total: Int64 = 0
        var position = 0
        while position < bytes.count {
            // A number: digits with at most one point inside them.
            let numberStart = position
            var point: Int?
            while position < bytes.count, isNumeric(bytes[position]) {
                if bytes[position] == 0x2E {
                    guard point == nil else { return nil }
                    point = position
                }
                position += 1
            }
            let numberEnd = position
            guard numberEnd > numberStart, point != numberStart, point != numberEnd - 1 else { return nil }
            // Its unit: everything up to the next number.
            let unitStart = position
            while position < bytes.count, !isNumeric(bytes[position]) { position += 1 }
            let unitText = UnsafeBufferPointer(rebasing: bytes[unitStart..<position])
            guard let unit = units.first(where: { $0.suffix.elementsEqual(unitText) }) else { return nil }

            var whole: Int64 = 0
            for index in numberStart..<(point ?? numberEnd) {
                var overflow: Bool
                (whole, overflow) = whole.multipliedReportingOverflow(by: 10)
                guard !overflow else { return nil }
                (whole, overflow) = whole.addingReportingOverflow(Int64(bytes[index] - 0x30))
                guard !overflow else { return nil }
            }
            var (nanoseconds, overflow) = whole.multipliedReportingOverflow(by: unit.nanoseconds)
            guard !overflow else { return nil }
            if let point {
                // Fractions finer than a nanosecond are dropped.
                var scale = unit.nanoseconds
                for index in (point + 1)..<numberEnd {
                    scale /= 10
                    guard scale > 0 else { break }
                    nanoseconds += Int64(bytes[index] - 0x30) * scale
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
