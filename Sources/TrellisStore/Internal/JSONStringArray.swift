/// JSON text for an array of strings, the one JSON value the store itself writes and reads
/// (a resource's secret output keys). Everything else is JSON text owned by the engine.
enum JSONStringArray {
    static func encode(_ strings: [String]) -> String {
        var out = "["
        for (index, string) in strings.enumerated() {
            if index > 0 { out += "," }
            out += "\""
            for scalar in string.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: out.unicodeScalars.append(scalar)
                }
            }
            out += "\""
        }
        return out + "]"
    }

    /// The strings of a JSON array of strings, or `nil` when the text is anything else.
    static func decode(_ text: String) -> [String]? {
        var parser = Parser(scalars: Array(text.unicodeScalars))
        return parser.parseArray()
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var index = 0

        mutating func skipWhitespace() {
            while index < scalars.count, [" ", "\n", "\r", "\t"].contains(scalars[index]) { index += 1 }
        }

        mutating func consume(_ expected: Unicode.Scalar) -> Bool {
            skipWhitespace()
            guard index < scalars.count, scalars[index] == expected else { return false }
            index += 1
            return true
        }

        mutating func parseArray() -> [String]? {
            guard consume("[") else { return nil }
            var strings: [String] = []
            if consume("]") { return atEnd() ? strings : nil }
            repeat {
                guard let string = parseString() else { return nil }
                strings.append(string)
            } while consume(",")
            guard consume("]") else { return nil }
            return atEnd() ? strings : nil
        }

        mutating func atEnd() -> Bool {
            skipWhitespace()
            return index == scalars.count
        }

        mutating func parseString() -> String? {
            guard consume("\"") else { return nil }
            var out = String.UnicodeScalarView()
            while index < scalars.count {
                let scalar = scalars[index]
                index += 1
                switch scalar {
                case "\"":
                    return String(out)
                case "\\":
                    guard index < scalars.count else { return nil }
                    let escape = scalars[index]
                    index += 1
                    switch escape {
                    case "\"", "\\", "/": out.append(escape)
                    case "b": out.append("\u{08}")
                    case "f": out.append("\u{0C}")
                    case "n": out.append("\n")
                    case "r": out.append("\r")
                    case "t": out.append("\t")
                    case "u":
                        guard let decoded = parseUnicodeEscape() else { return nil }
                        out.append(decoded)
                    default: return nil
                    }
                case _ where scalar.value < 0x20:
                    return nil
                default:
                    out.append(scalar)
                }
            }
            return nil
        }

        /// The scalar of `XXXX` after `\u`, joining a surrogate pair written as two escapes.
        mutating func parseUnicodeEscape() -> Unicode.Scalar? {
            guard let high = parseHex4() else { return nil }
            if (0xD800..<0xDC00).contains(high) {
                guard index + 1 < scalars.count, scalars[index] == "\\", scalars[index + 1] == "u" else { return nil }
                index += 2
                guard let low = parseHex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
            }
            return Unicode.Scalar(high)
        }

        mutating func parseHex4() -> UInt32? {
            guard index + 4 <= scalars.count else { return nil }
            var value: UInt32 = 0
            for scalar in scalars[index..<index + 4] {
                guard let digit = UInt32(String(scalar), radix: 16) else { return nil }
                value = value * 16 + digit
            }
            index += 4
            return value
        }
    }
}
