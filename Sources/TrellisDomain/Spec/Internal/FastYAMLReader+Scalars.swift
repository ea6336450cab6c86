/// Plain, quoted and literal block scalars, for ``FastYAMLReader``.
extension FastYAMLReader.Parser {
    /// A literal block scalar (`|`, `|-`, `|+`) whose indentation is found from its first
    /// line, as libyaml reads one, in a collection indented `parent`.
    mutating func literalScalar(parent: Int) throws(Unsupported) -> Int? {
        let startMark = mark
        position += 1
        // What becomes of the line feeds at the end: `-` strips them, `+` keeps them all,
        // and by default the last content line keeps its own.
        enum Chomping { case strip, clip, keep }
        var chomping = Chomping.clip
        if current == Byte.dash || current == UInt8(ascii: "+") {
            chomping = current == Byte.dash ? .strip : .keep
            position += 1
        }
        // An indentation indicator, or anything else on the header, is left to libyaml.
        guard Byte.isBlankOrEnd(current) else { throw Unsupported() }
        try finishLine()

        // Leading empty lines, then the first line with content sets the indentation.
        var trailingBreaks = 0
        var widestEmpty = 0
        var indent = 0
        while true {
            let start = position
            skipSpaces()
            let column = position - start
            guard current == Byte.newline else {
                guard current != Byte.end, column > parent, column >= widestEmpty, column >= 1 else {
                    throw Unsupported()
                }
                indent = column
                break
            }
            widestEmpty = max(widestEmpty, column)
            trailingBreaks += 1
            newline()
        }
        var text: [UInt8] = []
        var leadingBreak = false
        while true {
            // At the content of a line indented `indent`.
            if leadingBreak { text.append(Byte.newline) }
            text.append(contentsOf: repeatElement(Byte.newline, count: trailingBreaks))
            trailingBreaks = 0
            let start = position
            while current != Byte.newline && current != Byte.end { position += 1 }
            text.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<position]))
            leadingBreak = current == Byte.newline
            if leadingBreak { newline() }
            // Empty lines, up to the next line with content.
            var column = 0
            while true {
                let lineStart = position
                while current == Byte.space && position - lineStart < indent { position += 1 }
                column = position - lineStart
                guard current == Byte.newline else { break }
                trailingBreaks += 1
                newline()
            }
            if column < indent || current == Byte.end { break }
        }
        if chomping != .strip && leadingBreak { text.append(Byte.newline) }
        if chomping == .keep { text.append(contentsOf: repeatElement(Byte.newline, count: trailingBreaks)) }
        state.scalar(
            String(decoding: text, as: UTF8.self), plain: false, tag: nil, anchor: nil, mark: startMark)
        // The line that ended the scalar has had its indentation read: carry on from there.
        return try nextLine(within: parent)
    }

    /// A quoted scalar, or a plain one, at `position`; and which it was.
    mutating func scalar(flow: Bool) throws(Unsupported) -> (text: String, plain: Bool) {
        if current == Byte.doubleQuote || current == Byte.singleQuote { return (try quotedScalar(), false) }
        guard startsPlain(flow: flow) else { throw Unsupported() }
        return (plainScalar(flow: flow), true)
    }

    /// Whether a plain scalar may start at `position`.
    func startsPlain(flow: Bool) -> Bool {
        let first = current
        if first == Byte.end || first == Byte.newline || first == Byte.space || Byte.cannotStartPlain(first) {
            return false
        }
        // In flow context libyaml reads `?` and `:` as indicators whatever follows them.
        if flow && (first == UInt8(ascii: "?") || first == Byte.colon) { return false }
        if first == Byte.dash || first == UInt8(ascii: "?") || first == Byte.colon {
            let next = byte(at: position + 1)
            if Byte.isBlankOrEnd(next) || next == Byte.hash || (flow && Byte.isFlowIndicator(next)) { return false }
        }
        return true
    }

    /// A plain scalar on one line, without its trailing spaces; stops at `: `, at ` #`,
    /// at the line's end, and in flow context at `,[]{}` and at a `:` before one of them
    /// or `?`.
    mutating func plainScalar(flow: Bool) -> String {
        let start = position
        var end = position
        while true {
            let byte = current
            if byte == Byte.newline || byte == Byte.end { break }
            if byte == Byte.space {
                position += 1
                continue
            }
            if byte == Byte.hash && self.byte(at: position - 1) == Byte.space { break }
            if byte == Byte.colon {
                let next = self.byte(at: position + 1)
                if Byte.isBlankOrEnd(next) || (flow && (Byte.isFlowIndicator(next) || next == UInt8(ascii: "?"))) {
                    break
                }
            }
            if flow && Byte.isFlowIndicator(byte) { break }
            position += 1
            end = position
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }

    /// A single- or double-quoted scalar on one line, at its opening quote; leaves the
    /// position past the closing one.
    mutating func quotedScalar() throws(Unsupported) -> String {
        let quote = current
        position += 1
        let start = position
        var escaped = false
        while true {
            let byte = current
            if byte == Byte.newline || byte == Byte.end { throw Unsupported() }
            if byte == Byte.backslash && quote == Byte.doubleQuote {
                let next = self.byte(at: position + 1)
                if next == Byte.newline || next == Byte.end { throw Unsupported() }
                escaped = true
                position += 2
                continue
            }
            if byte == quote {
                if quote == Byte.singleQuote && self.byte(at: position + 1) == Byte.singleQuote {
                    escaped = true
                    position += 2
                    continue
                }
                break
            }
            position += 1
        }
        let end = position
        position += 1
        let body = UnsafeBufferPointer(rebasing: bytes[start..<end])
        guard escaped else { return String(decoding: body, as: UTF8.self) }
        return quote == Byte.singleQuote ? Self.unquoteSingle(body) : try Self.unescapeDouble(body)
    }

    static func unquoteSingle(_ body: UnsafeBufferPointer<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(body.count)
        var index = 0
        while index < body.count {
            output.append(body[index])
            index += body[index] == Byte.singleQuote ? 2 : 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The escapes libyaml reads in a double-quoted scalar; a surrogate or an escape it
    /// does not know is left to libyaml.
    static func unescapeDouble(_ body: UnsafeBufferPointer<UInt8>) throws(Unsupported) -> String {
        var output = String.UnicodeScalarView()
        var index = 0
        while index < body.count {
            let byte = body[index]
            guard byte == Byte.backslash else {
                output.append(Unicode.Scalar(byte))
                index += 1
                continue
            }
            guard index + 1 < body.count else { throw Unsupported() }
            let code = body[index + 1]
            index += 2
            let scalar: UInt32
            switch code {
            case UInt8(ascii: "0"): scalar = 0
            case UInt8(ascii: "a"): scalar = 0x07
            case UInt8(ascii: "b"): scalar = 0x08
            case UInt8(ascii: "t"): scalar = 0x09
            case UInt8(ascii: "n"): scalar = 0x0A
            case UInt8(ascii: "v"): scalar = 0x0B
            case UInt8(ascii: "f"): scalar = 0x0C
            case UInt8(ascii: "r"): scalar = 0x0D
            case UInt8(ascii: "e"): scalar = 0x1B
            case Byte.space, Byte.doubleQuote, UInt8(ascii: "/"), Byte.backslash:
                scalar = UInt32(code)
            case UInt8(ascii: "N"): scalar = 0x85
            case UInt8(ascii: "_"): scalar = 0xA0
            case UInt8(ascii: "L"): scalar = 0x2028
            case UInt8(ascii: "P"): scalar = 0x2029
            case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
                let digits = code == UInt8(ascii: "x") ? 2 : code == UInt8(ascii: "u") ? 4 : 8
                guard index + digits <= body.count else { throw Unsupported() }
                var value: UInt32 = 0
                for digit in body[index..<(index + digits)] {
                    guard let nibble = hexValue(digit) else { throw Unsupported() }
                    value = value << 4 | nibble
                }
                index += digits
                scalar = value
            default:
                throw Unsupported()
            }
            guard let character = Unicode.Scalar(scalar) else { throw Unsupported() }
            output.append(character)
        }
        return String(output)
    }

    static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}
