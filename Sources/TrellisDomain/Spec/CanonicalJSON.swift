extension SpecValue {
    /// The value as canonical JSON: no insignificant whitespace, strings with only the
    /// escapes JSON requires, numbers in their shortest round-tripping form, and map keys in
    /// the map's order, so that the order a spec was written in survives storage. The same
    /// value (in the same order) always gives the same text.
    public var canonicalJSON: String {
        var bytes: [UInt8] = []
        appendCanonicalJSON(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the value's canonical JSON as UTF-8: bytes append faster than a string grows.
    func appendCanonicalJSON(to bytes: inout [UInt8]) {
        switch content {
        case .null: bytes.append(contentsOf: "null".utf8)
        case .bool(let value): bytes.append(contentsOf: (value ? "true" : "false").utf8)
        case .int(let value): bytes.append(contentsOf: String(value).utf8)
        case .double(let value): bytes.append(contentsOf: (value.isFinite ? value.description : "null").utf8)
        case .string(let value):
            bytes.append(0x22)
            appendJSONString(value, to: &bytes)
            bytes.append(0x22)
        case .list(let items):
            bytes.append(0x5B)
            var first = true
            for item in items {
                if !first { bytes.append(0x2C) }
                first = false
                item.appendCanonicalJSON(to: &bytes)
            }
            bytes.append(0x5D)
        case .map(let map):
            bytes.append(0x7B)
            var first = true
            for (key, value) in map {
                if !first { bytes.append(0x2C) }
                first = false
                bytes.append(0x22)
                appendJSONString(key, to: &bytes)
                bytes.append(contentsOf: [0x22, 0x3A])
                value.appendCanonicalJSON(to: &bytes)
            }
            bytes.append(0x7D)
        }
    }
}

extension SpecMap {
    /// The map as canonical JSON (see `SpecValue.canonicalJSON`).
    public var canonicalJSON: String { SpecValue.map(self).canonicalJSON }
}

private let hexDigits = Array("0123456789abcdef".unicodeScalars)

/// Appends `string` as UTF-8, escaped for the inside of a JSON string.
func appendJSONString(_ string: String, to bytes: inout [UInt8]) {
    let utf8 = string.utf8
    // Most strings need no escape at all: append them whole.
    guard utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F }) else {
        bytes.append(contentsOf: utf8)
        return
    }
    var escaped = ""
    appendJSONString(string, to: &escaped)
    bytes.append(contentsOf: escaped.utf8)
}

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
