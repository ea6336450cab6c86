/// Formats records as logfmt or JSON lines.
public enum LineFormatter {
    static func logfmt(_ record: LogRecord) -> String {
        var line = "time=\(WallClock.rfc3339(nanoseconds: record.timestampNanoseconds))"
        line += " level=\(record.level) logger=\(quotedIfNeeded(record.label)) msg=\(quoted(record.message))"
        for key in record.metadata.keys.sorted() {
            line += " \(key)=\(quotedIfNeeded(record.metadata[key]!))"
        }
        return line
    }

    static func json(_ record: LogRecord) -> String {
        var line = "{\"time\":\(jsonString(WallClock.rfc3339(nanoseconds: record.timestampNanoseconds)))"
        line += ",\"level\":\(jsonString(record.level.description))"
        line += ",\"logger\":\(jsonString(record.label)),\"msg\":\(jsonString(record.message))"
        for key in record.metadata.keys.sorted() {
            line += ",\(jsonString(key)):\(jsonString(record.metadata[key]!))"
        }
        return line + "}"
    }

    /// Values with spaces, quotes, `=` or control characters are quoted; others are bare.
    static func quotedIfNeeded(_ value: String) -> String {
        if value.isEmpty { return "\"\"" }
        let needsQuotes = value.unicodeScalars.contains { scalar in
            scalar == " " || scalar == "\"" || scalar == "=" || scalar == "\\" || scalar.value < 0x20
        }
        return needsQuotes ? quoted(value) : value
    }

    static func quoted(_ value: String) -> String {
        escaped(value) { "\\u{\(String($0, radix: 16))}" }
    }

    /// `value` as a JSON string literal, quotes included.
    public static func jsonString(_ value: String) -> String {
        escaped(value) { code in
            let hex = String(code, radix: 16)
            return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        }
    }

    /// `value` in double quotes with quotes, backslashes and control characters escaped;
    /// `control` spells the control characters without a short escape.
    private static func escaped(_ value: String, control: (UInt32) -> String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += control(scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
