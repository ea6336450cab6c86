extension SpecValue {
    /// The value as canonical JSON: no insignificant whitespace, strings with only the
    /// escapes JSON requires, numbers in their shortest round-tripping form, and map keys in
    /// the map's order, so that the order a spec was written in survives storage. The same
    /// value (in the same order) always gives the same text.
    public var canonicalJSON: String {
        var text = ""
        appendCanonicalJSON(to: &text)
        return text
    }

    func appendCanonicalJSON(to text: inout String) {
        switch content {
        case .null: text += "null"
        case .bool(let value): text += value ? "true" : "false"
        case .int(let value): text += String(value)
        case .double(let value): text += value.isFinite ? value.description : "null"
        case .string(let value):
            text += "\""
            appendJSONString(value, to: &text)
            text += "\""
        case .list(let items):
            text += "["
            for (position, item) in items.enumerated() {
                if position > 0 { text += "," }
                item.appendCanonicalJSON(to: &text)
            }
            text += "]"
        case .map(let map):
            text += "{"
            for position in map.keys.indices {
                if position > 0 { text += "," }
                text += "\""
                appendJSONString(map.keys[position], to: &text)
                text += "\":"
                map.values[position].appendCanonicalJSON(to: &text)
            }
            text += "}"
        }
    }
}

extension SpecMap {
    /// The map as canonical JSON (see `SpecValue.canonicalJSON`).
    public var canonicalJSON: String { SpecValue.map(self).canonicalJSON }
}

private let hexDigits = Array("0123456789abcdef".unicodeScalars)

/// Appends `string` escaped for the inside of a JSON string.
func appendJSONString(_ string: String, to text: inout String) {
    // Most strings need no escape at all: append them whole.
    guard string.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }) else {
        text += string
        return
    }
    for scalar in string.unicodeScalars {
        switch scalar {
        case "\"": text += "\\\""
        case "\\": text += "\\\\"
        case "\n": text += "\\n"
        case "\r": text += "\\r"
        case "\t": text += "\\t"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            text += "\\u00"
            text.unicodeScalars.append(hexDigits[Int(scalar.value >> 4)])
            text.unicodeScalars.append(hexDigits[Int(scalar.value & 0xF)])
        default: text.unicodeScalars.append(scalar)
        }
    }
}
