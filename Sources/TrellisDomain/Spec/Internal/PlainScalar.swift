/// The YAML 1.2 core schema's resolution of plain scalars, which also reads JSON's
/// literals and numbers exactly.
enum PlainScalar: Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string
    case invalidNumber(String)

    static func classify(_ text: String) -> PlainScalar {
        var text = text
        return text.withUTF8 { classify(bytes: $0) }
    }

    private static func classify(bytes: UnsafeBufferPointer<UInt8>) -> PlainScalar {
        guard let first = bytes.first else { return .null }
        // Only these first bytes can start a non-string scalar.
        switch first {
        case UInt8(ascii: "~"), UInt8(ascii: "n"), UInt8(ascii: "N"):
            return bytes.count == 1 && first == UInt8(ascii: "~") || equals(bytes, ["null", "Null", "NULL"])
                ? .null : .string
        case UInt8(ascii: "t"), UInt8(ascii: "T"):
            return equals(bytes, ["true", "True", "TRUE"]) ? .bool(true) : .string
        case UInt8(ascii: "f"), UInt8(ascii: "F"):
            return equals(bytes, ["false", "False", "FALSE"]) ? .bool(false) : .string
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."):
            return number(bytes)
        default:
            return .string
        }
    }

    private static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ candidates: [StaticString]) -> Bool {
        candidates.contains { candidate in
            candidate.utf8CodeUnitCount == bytes.count
                && UnsafeBufferPointer(start: candidate.utf8Start, count: candidate.utf8CodeUnitCount)
                    .elementsEqual(bytes)
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    private static func number(_ bytes: UnsafeBufferPointer<UInt8>) -> PlainScalar {
        let text = String(decoding: bytes, as: UTF8.self)

        // Hexadecimal and octal integers: 0x1F, 0o17.
        if bytes.count > 2, bytes[0] == UInt8(ascii: "0"),
            bytes[1] == UInt8(ascii: "x") || bytes[1] == UInt8(ascii: "o")
        {
            let radix = bytes[1] == UInt8(ascii: "x") ? 16 : 8
            guard let value = Int(text.dropFirst(2), radix: radix) else {
                let digitsValid = bytes[2...].allSatisfy { Int(String(UnicodeScalar($0)), radix: radix) != nil }
                return digitsValid ? .invalidNumber("integer out of range") : .string
            }
            return .int(value)
        }

        // Special floats: .inf, -.inf, .nan, which JSON cannot carry.
        let lowered = text.lowercased()
        if [".inf", "+.inf", "-.inf", ".nan"].contains(lowered) {
            return .invalidNumber("infinite and NaN numbers are not supported")
        }

        // [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
        var position = 0
        if bytes[position] == UInt8(ascii: "-") || bytes[position] == UInt8(ascii: "+") { position += 1 }
        let integerStart = position
        while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        let integerDigits = position - integerStart
        var isFloat = false
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isFloat = true
            position += 1
            let fractionStart = position
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
            if integerDigits == 0 && position == fractionStart { return .string }
        } else if integerDigits == 0 {
            return .string
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            isFloat = true
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "-") || bytes[position] == UInt8(ascii: "+") {
                position += 1
            }
            let exponentStart = position
            while position < bytes.count, isDigit(bytes[position]) { position += 1 }
            if position == exponentStart { return .string }
        }
        guard position == bytes.count else { return .string }

        if !isFloat {
            guard let value = Int(text) else { return .invalidNumber("integer out of range") }
            return .int(value)
        }
        guard let value = Double(text), value.isFinite else {
            return .invalidNumber("number out of range")
        }
        return .double(value)
    }
}

/// JSON writes a character beyond U+FFFF as a pair of `\uD8xx\uDCxx` escapes, which YAML
/// (and so libyaml) rejects; YAML writes it as `\UXXXXXXXX`. For JSON input (text whose
/// first non-blank character is `{` or `[`), pairs are rewritten before parsing. In JSON
/// a backslash appears only inside strings, so skipping escape pairs keeps this exact.
enum JSONSurrogates {
    static func rewrite(_ bytes: [UInt8]) -> [UInt8] {
        guard let first = bytes.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }),
            first == UInt8(ascii: "{") || first == UInt8(ascii: "["),
            bytes.contains(UInt8(ascii: "\\"))
        else { return bytes }

        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var position = 0
        while position < bytes.count {
            let byte = bytes[position]
            guard byte == UInt8(ascii: "\\"), position + 1 < bytes.count else {
                output.append(byte)
                position += 1
                continue
            }
            if let high = hex4(bytes, position + 2), bytes[position + 1] == UInt8(ascii: "u"),
                (0xD800..<0xDC00).contains(high), position + 11 < bytes.count,
                bytes[position + 6] == UInt8(ascii: "\\"), bytes[position + 7] == UInt8(ascii: "u"),
                let low = hex4(bytes, position + 8), (0xDC00..<0xE000).contains(low)
            {
                let scalar = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                output.append(contentsOf: Array("\\U".utf8))
                var digits = Array(String(scalar, radix: 16).utf8)
                while digits.count < 8 { digits.insert(UInt8(ascii: "0"), at: 0) }
                output.append(contentsOf: digits)
                position += 12
                continue
            }
            output.append(byte)
            output.append(bytes[position + 1])
            position += 2
        }
        return output
    }

    private static func hex4(_ bytes: [UInt8], _ start: Int) -> Int? {
        guard start + 4 <= bytes.count else { return nil }
        var value = 0
        for byte in bytes[start..<start + 4] {
            guard let digit = Int(String(UnicodeScalar(byte)), radix: 16) else { return nil }
            value = value * 16 + digit
        }
        return value
    }
}
