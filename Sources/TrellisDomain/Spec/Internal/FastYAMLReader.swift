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

extension FastYAMLReader {
    /// The input left the subset: read it with libyaml instead.
    struct Unsupported: Error {}

    /// The bytes the parser looks for.
    enum Byte {
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
    /// position at the first non-space byte of the next line with content, and returns
    /// that line's indentation, or nil at the end of the input. Flow collections and
    /// scalars are in the files beside this one.
    struct Parser {
        typealias Unsupported = FastYAMLReader.Unsupported
        typealias Byte = FastYAMLReader.Byte

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

        func atMarker(_ byte: UInt8) -> Bool {
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
            return try nextLine(within: parent)
        }

        /// The next line with content, which may be indented no deeper than `parent` unless
        /// it starts a document.
        mutating func nextLine(within parent: Int) throws(Unsupported) -> Int? {
            let next = try nextContentLine()
            if let indent = next, indent > parent, !(indent == 0 && atDocumentStart) { throw Unsupported() }
            return next
        }

        /// A block map indented `indent`, at the `:` after its first key.
        mutating func blockMapping(indent: Int, firstKey: String, mark keyMark: SourceMark) throws(Unsupported) -> Int?
        {
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
    }
}
