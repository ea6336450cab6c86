/// The naming rules of the spec, checked on bytes.
enum Names {
    /// A resource name: a DNS label, `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 bytes.
    static func isResourceName(_ name: Substring.UTF8View) -> Bool {
        guard let first = name.first, let last = name.last, name.count <= 63 else { return false }
        return isLowerAlphanumeric(first) && isLowerAlphanumeric(last)
            && name.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    static func isResourceName(_ name: String) -> Bool { isResourceName(Substring(name).utf8) }

    /// An object name (`metadata.name`): like a resource name, but dots are allowed too and
    /// it may be 253 bytes long.
    static func isObjectName(_ name: String) -> Bool {
        let bytes = name.utf8
        guard let first = bytes.first, let last = bytes.last, bytes.count <= 253 else { return false }
        return isLowerAlphanumeric(first) && isLowerAlphanumeric(last)
            && bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }

    /// A parameter name: a letter or `_`, then letters, digits or `_`.
    static func isParameterName(_ name: Substring.UTF8View) -> Bool {
        guard let first = name.first, isLetter(first) || first == UInt8(ascii: "_") else { return false }
        return name.allSatisfy { isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    static func isParameterName(_ name: String) -> Bool { isParameterName(Substring(name).utf8) }

    /// An output key: letters, digits, `_`, `-` and `.`.
    static func isOutputKey(_ name: Substring.UTF8View) -> Bool {
        !name.isEmpty
            && name.allSatisfy {
                isLetter($0) || isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-")
                    || $0 == UInt8(ascii: ".")
            }
    }

    static let resourceNameRule =
        "a resource name must be lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters"
    static let objectNameRule =
        "a name must be lowercase letters, digits, '-' and '.', start and end with a letter or digit, at most 253 characters"
    static let parameterNameRule = "a parameter name must be a letter or '_' followed by letters, digits or '_'"

    private static func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || isDigit(byte)
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A)
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}
