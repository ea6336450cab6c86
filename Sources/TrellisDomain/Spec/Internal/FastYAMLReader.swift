/// Reads the plain subset of YAML that spec files are mostly written in, without libyaml,
/// into the same `EventState` and so into the same trees, marks and errors.
///
/// The subset: printable ASCII and line feeds only; `---` document starts; block maps
/// and lists (a list may stand at its map key's indentation); flow maps and lists, over
/// several lines if need be; plain scalars on one line; single- and double-quoted scalars
/// on one line; literal block scalars (`|`, `|-`, `|+`) whose indentation their first
/// line sets; comments. Anything else (tabs, carriage returns, other bytes, anchors,
/// aliases, tags, folded scalars, indentation indicators, multi-line plain and quoted
/// scalars, complex keys, `...`, directives) and anything malformed makes ``read(_:)``
/// return nil, and `YAMLReader` reads the input with libyaml from the start, which also
/// words every syntax error. So this reader never has to agree with libyaml on an error,
/// only on the trees of the inputs it accepts; the differential tests check that on
/// generated inputs and on every single-byte change of a set of documents.
struct FastYAMLReader {
    var file: String
    var limits: SpecLimits

    /// The documents and the errors `EventState` found in them, or nil when `bytes`
    /// leaves the subset.
    func read(_ bytes: [UInt8]) -> (documents: [RawDocument], errors: [SpecError])? {
        bytes.withUnsafeBufferPointer { buffer in
            for byte in buffer where (byte < 0x20 && byte != 0x0A) || byte > 0x7E { return nil }
            // Deeper inputs go to libyaml, which reports the nesting limit (and whose parser
            // does not recurse).
            var parser = Parser(
                bytes: buffer, state: EventState(file: file, limits: limits),
                maxDepth: min(limits.maxNestingDepth, 200))
            do {
                try parser.stream()
            } catch {
                return nil
            }
            return (parser.state.documents, parser.state.errors)
        }
    }
}

/// The input left the subset: read it with libyaml instead.
private struct Unsupported: Error {}

private enum Byte {
    static let newline = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let hash = UInt8(ascii: "#")
    static let colon = UInt8(ascii: ":")
    static let dash = UInt8(ascii: "-")
    static let comma = UInt8(ascii: ",")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let doubleQuote = UInt8(ascii: "\"")
    static let singleQuote = UInt8(ascii: "'")
    static let backslash = UInt8(ascii: "\\")
    static let dot = UInt8(ascii: ".")
    /// What `byte(at:)` answers past the end; the input holds no such byte.
    static let end: UInt8 = 0

    static func isBlankOrEnd(_ byte: UInt8) -> Bool { byte == space || byte == newline || byte == end }

    static func isFlowIndicator(_ byte: UInt8) -> Bool {
        byte == comma || byte == openBracket || byte == closeBracket || byte == openBrace || byte == closeBrace
    }

    /// Bytes that may not start a plain scalar here (or start something outside the
    /// subset): indicators of YAML's other features and of flow collections.
    static func cannotStartPlain(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "&"), UInt8(ascii: "*"), UInt8(ascii: "!"), UInt8(ascii: "|"), UInt8(ascii: ">"),
            UInt8(ascii: "%"), UInt8(ascii: "@"), UInt8(ascii: "`"), hash, comma, openBracket, closeBracket,
            openBrace, closeBrace, doubleQuote, singleQuote:
            true
        default:
            false
        }
    }
}

/// A recursive-descent parser over the bytes. Every block-level method leaves the
/// position at the first non-space byte of the next line with content, and returns that
/// line's indentation, or nil at the end of the input.
private struct Parser {
    let bytes: UnsafeBufferPointer<UInt8>
    var state: EventState
    let maxDepth: Int
    var position = 0
    /// The line of `position`, counted from 1, and where that line starts.
    var line = 1
    var lineStart = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>, state: EventState, maxDepth: Int) {
        self.bytes = bytes
        self.state = state
        self.maxDepth = maxDepth
    }

    // MARK: - Positions

    func byte(at index: Int) -> UInt8 { index < bytes.count ? bytes[index] : Byte.end }

    var current: UInt8 { byte(at: position) }

    var mark: SourceMark { SourceMark(line: line, column: position - lineStart + 1) }

    /// Where libyaml puts the end of the stream: the start of the line after the last.
    var streamEndMark: SourceMark {
        SourceMark(line: position == lineStart ? line : line + 1, column: 1)
    }

    /// Steps over the line feed at `position`.
    mutating func newline() {
        position += 1
        line += 1
        lineStart = position
    }

    mutating func skipSpaces() {
        while current == Byte.space { position += 1 }
    }

    /// At the start of a line: `---` followed by a blank or the end.
    var atDocumentStart: Bool { atMarker(Byte.dash) }

    private func atMarker(_ byte: UInt8) -> Bool {
        position == lineStart && self.byte(at: position) == byte && self.byte(at: position + 1) == byte
            && self.byte(at: position + 2) == byte && Byte.isBlankOrEnd(self.byte(at: position + 3))
    }

    /// A block list's entry: `-` followed by a blank or the end.
    var atSequenceEntry: Bool { current == Byte.dash && Byte.isBlankOrEnd(byte(at: position + 1)) }

    /// Ends the current line: spaces, then a comment (after a space) or the line feed.
    mutating func finishLine() throws(Unsupported) {
        skipSpaces()
        if current == Byte.hash {
            guard position == lineStart || byte(at: position - 1) == Byte.space else { throw Unsupported() }
            while current != Byte.newline && current != Byte.end { position += 1 }
        }
        if current == Byte.newline {
            newline()
        } else if current != Byte.end {
            throw Unsupported()
        }
    }

    /// From the start of a line, skips lines that are blank or hold only a comment;
    /// returns the indentation of the next one, or nil at the end.
    mutating func nextContentLine() throws(Unsupported) -> Int? {
        while true {
            skipSpaces()
            switch current {
            case Byte.end:
                return nil
            case Byte.newline:
                newline()
            case Byte.hash:
                while current != Byte.newline && current != Byte.end { position += 1 }
            default:
                if atMarker(Byte.dot) { throw Unsupported() }
                return position - lineStart
            }
        }
    }

    // MARK: - Documents

    mutating func stream() throws(Unsupported) {
        var next = try nextContentLine()
        while let indent = next {
            state.startDocument()
            if indent == 0 && atDocumentStart {
                position += 3
                try finishLine()
                next = try nextContentLine()
                if next == nil || (next == 0 && atDocumentStart) {
                    // An empty document: libyaml's empty scalar stands where the next token starts.
                    state.scalar("", plain: true, tag: nil, anchor: nil, mark: next == nil ? streamEndMark : mark)
                    state.endDocument(mark: mark)
                    continue
                }
            }
            next = try nodeOnOwnLine(indent: next!, parent: -1)
            if let after = next, !(after == 0 && atDocumentStart) { throw Unsupported() }
            state.endDocument(mark: mark)
        }
    }

    // MARK: - Block nodes

    /// A node whose first byte starts a line indented `indent`, more than `parent`.
    mutating func nodeOnOwnLine(indent: Int, parent: Int) throws(Unsupported) -> Int? {
        if atSequenceEntry { return try blockSequence(indent: indent, indentless: false) }
        return try inlineNode(parent: parent, mapAllowed: true)
    }

    /// The value after a map key's `:` or a list entry's `-`, at `position` just past it,
    /// in a collection indented `parent`.
    mutating func blockValue(parent: Int, inMap: Bool) throws(Unsupported) -> Int? {
        let emptyMark = mark
        skipSpaces()
        guard current == Byte.newline || current == Byte.end || current == Byte.hash else {
            if current == UInt8(ascii: "|") { return try literalScalar(parent: parent) }
            return try inlineNode(parent: parent, mapAllowed: !inMap)
        }
        try finishLine()
        let next = try nextContentLine()
        if let indent = next, indent > parent { return try nodeOnOwnLine(indent: indent, parent: parent) }
        if let indent = next, indent == parent, inMap, atSequenceEntry {
            return try blockSequence(indent: indent, indentless: true)
        }
        state.scalar("", plain: true, tag: nil, anchor: nil, mark: emptyMark)
        return next
    }

    /// A node starting at `position`, on a line with content before it or on its own: a
    /// flow collection, a scalar, or (where `mapAllowed`) a block map whose first key this is.
    mutating func inlineNode(parent: Int, mapAllowed: Bool) throws(Unsupported) -> Int? {
        let start = position
        let startMark = mark
        if current == Byte.openBrace || current == Byte.openBracket {
            try flowCollection()
            skipSpaces()
            if current == Byte.colon { throw Unsupported() }
            return try endOfValue(parent: parent)
        }
        let (text, plain) = try scalar(flow: false)
        skipSpaces()
        if current == Byte.colon && Byte.isBlankOrEnd(byte(at: position + 1)) {
            guard mapAllowed, position - start <= 1024 else { throw Unsupported() }
            return try blockMapping(indent: start - lineStart, firstKey: text, mark: startMark)
        }
        state.scalar(text, plain: plain, tag: nil, anchor: nil, mark: startMark)
        return try endOfValue(parent: parent)
    }

    /// After a value that ends its line: the next line may not be indented deeper than
    /// the collection holding the value (it would continue a multi-line scalar, or be an
    /// error).
    mutating func endOfValue(parent: Int) throws(Unsupported) -> Int? {
        try finishLine()
        let next = try nextContentLine()
        if let indent = next, indent > parent, !(indent == 0 && atDocumentStart) { throw Unsupported() }
        return next
    }

    /// A block map indented `indent`, at the `:` after its first key.
    mutating func blockMapping(indent: Int, firstKey: String, mark keyMark: SourceMark) throws(Unsupported) -> Int? {
        try enter()
        state.startCollection(isMap: true, tag: nil, anchor: nil, mark: keyMark)
        var key = firstKey
        var keyMark = keyMark
        var next: Int?
        while true {
            state.scalar(key, plain: true, tag: nil, anchor: nil, mark: keyMark)
            position += 1
            next = try blockValue(parent: indent, inMap: true)
            guard let nextIndent = next, nextIndent == indent, !(nextIndent == 0 && atDocumentStart) else { break }
            (key, keyMark) = try blockKey()
        }
        if let nextIndent = next, nextIndent > indent { throw Unsupported() }
        state.endCollection()
        depth -= 1
        return next
    }

    /// A key of a block map at the start of its line; leaves the position at its `:`.
    mutating func blockKey() throws(Unsupported) -> (String, SourceMark) {
        let start = position
        let keyMark = mark
        let (key, _) = try scalar(flow: false)
        skipSpaces()
        guard current == Byte.colon, Byte.isBlankOrEnd(byte(at: position + 1)), position - start <= 1024 else {
            throw Unsupported()
        }
        return (key, keyMark)
    }

    /// A block list whose entries start at `indent`, at its first `-`. An `indentless`
    /// list is a map's value at the map's own indentation, and ends at its next key.
    mutating func blockSequence(indent: Int, indentless: Bool) throws(Unsupported) -> Int? {
        try enter()
        state.startCollection(isMap: false, tag: nil, anchor: nil, mark: mark)
        var next: Int?
        while true {
            position += 1
            next = try blockValue(parent: indent, inMap: false)
            guard let nextIndent = next, nextIndent == indent, atSequenceEntry else { break }
        }
        if let nextIndent = next {
            if nextIndent > indent { throw Unsupported() }
            if nextIndent == indent && !indentless && !(nextIndent == 0 && atDocumentStart) { throw Unsupported() }
        }
        state.endCollection()
        depth -= 1
        return next
    }

    mutating func enter() throws(Unsupported) {
        guard depth < maxDepth else { throw Unsupported() }
        depth += 1
    }

    // MARK: - Flow nodes

    /// A flow map or list, at its `{` or `[`; leaves the position past its closing byte.
    mutating func flowCollection() throws(Unsupported) {
        try enter()
        let isMap = current == Byte.openBrace
        let close = isMap ? Byte.closeBrace : Byte.closeBracket
        state.startCollection(isMap: isMap, tag: nil, anchor: nil, mark: mark)
        position += 1
        try skipFlowSpace()
        if current == close {
            position += 1
        } else {
            while true {
                if isMap { try flowKey() }
                try flowNode()
                try skipFlowSpace()
                if current == Byte.comma {
                    position += 1
                    try skipFlowSpace()
                    // A trailing comma is left to libyaml.
                    guard current != close else { throw Unsupported() }
                    continue
                }
                guard current == close else { throw Unsupported() }
                position += 1
                break
            }
        }
        state.endCollection()
        depth -= 1
    }

    /// A flow map's key and its `:`, on one line; leaves the position at the value.
    mutating func flowKey() throws(Unsupported) {
        let start = position
        let keyMark = mark
        let (key, plain) = try scalar(flow: true)
        skipSpaces()
        guard current == Byte.colon, position - start <= 1024 else { throw Unsupported() }
        // After a plain key libyaml reads `:x` as part of the key; after a quoted one
        // (JSON's `"key":value`) the `:` is the indicator whatever follows.
        if plain && !Byte.isBlankOrEnd(byte(at: position + 1)) { throw Unsupported() }
        state.scalar(key, plain: plain, tag: nil, anchor: nil, mark: keyMark)
        position += 1
        try skipFlowSpace()
        if current == Byte.comma || current == Byte.closeBrace { throw Unsupported() }
    }

    /// A value inside a flow collection.
    mutating func flowNode() throws(Unsupported) {
        let startMark = mark
        if current == Byte.openBrace || current == Byte.openBracket { return try flowCollection() }
        let (text, plain) = try scalar(flow: true)
        // A plain scalar that stopped at its line's end might go on on the next line.
        if plain && (current == Byte.newline || current == Byte.end || current == Byte.hash) {
            try skipFlowSpace()
            guard current == Byte.comma || current == Byte.closeBrace || current == Byte.closeBracket else {
                throw Unsupported()
            }
        }
        state.scalar(text, plain: plain, tag: nil, anchor: nil, mark: startMark)
    }

    /// Spaces, line feeds and comments between flow tokens.
    mutating func skipFlowSpace() throws(Unsupported) {
        while true {
            switch current {
            case Byte.space:
                position += 1
            case Byte.newline:
                newline()
                if atDocumentStart || atMarker(Byte.dot) { throw Unsupported() }
            case Byte.hash:
                while current != Byte.newline && current != Byte.end { position += 1 }
            default:
                return
            }
        }
    }

    // MARK: - Scalars

    /// A literal block scalar (`|`, `|-`, `|+`) whose indentation is found from its first
    /// line, as libyaml reads one, in a collection indented `parent`.
    mutating func literalScalar(parent: Int) throws(Unsupported) -> Int? {
        let startMark = mark
        position += 1
        var chomping = 0
        if current == Byte.dash || current == UInt8(ascii: "+") {
            chomping = current == Byte.dash ? -1 : 1
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
        if chomping != -1 && leadingBreak { text.append(Byte.newline) }
        if chomping == 1 { text.append(contentsOf: repeatElement(Byte.newline, count: trailingBreaks)) }
        state.scalar(
            String(decoding: text, as: UTF8.self), plain: false, tag: nil, anchor: nil, mark: startMark)
        // The line that ended the scalar has had its indentation read: carry on from there.
        let next = try nextContentLine()
        if let indent = next, indent > parent, !(indent == 0 && atDocumentStart) { throw Unsupported() }
        return next
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
