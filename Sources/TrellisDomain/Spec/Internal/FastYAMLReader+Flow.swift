/// Flow maps and lists, JSON's shape, for ``FastYAMLReader``.
extension FastYAMLReader.Parser {
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
}
