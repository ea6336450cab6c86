import TrellisLogging

/// Times as the CLI prints them.
enum Timestamp {
    /// `2026-12-03T14:37:46.123Z`.
    static func rfc3339(unixMilliseconds: Int64) -> String {
        WallClock.rfc3339(nanoseconds: unixMilliseconds * 1_000_000)
    }

    /// `14:37:46.123`, for progress lines.
    static func clock(unixMilliseconds: Int64) -> String {
        let full = rfc3339(unixMilliseconds: unixMilliseconds)
        let start = full.index(full.startIndex, offsetBy: 11)
        return String(full[start..<full.index(before: full.endIndex)])
    }

    /// A duration as `3d4h`, `5h12m`, `4m10s` or `12s`.
    static func duration(milliseconds: Int64) -> String {
        let seconds = max(0, milliseconds / 1000)
        let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60)
        if days > 0 { return "\(days)d\(hours)h" }
        if hours > 0 { return "\(hours)h\(minutes)m" }
        if minutes > 0 { return "\(minutes)m\(seconds % 60)s" }
        return "\(seconds)s"
    }

    static func nowUnixMilliseconds() -> Int64 {
        WallClock.nowNanoseconds() / 1_000_000
    }
}
