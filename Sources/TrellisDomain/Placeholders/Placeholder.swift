/// What a placeholder refers to.
public enum Placeholder: Sendable, Hashable, CustomStringConvertible {
    /// `${params.NAME}`: a parameter of the environment, substituted at resolution.
    case parameter(String)
    /// `${resources.NAME.outputs.KEY}`: an output of another resource, substituted when the
    /// resource is applied. Also a dependency edge.
    case output(resource: String, key: String)

    /// The placeholder as written.
    public var description: String {
        switch self {
        case .parameter(let name): "${params.\(name)}"
        case .output(let resource, let key): "${resources.\(resource).outputs.\(key)}"
        }
    }
}

/// A string of params split into literal text and placeholders.
///
/// `$${` stands for a literal `${`. In general, in a run of `$` just before `{`, each `$$`
/// is one literal `$` and an odd `$` left over starts a placeholder (`$$${params.x}` is a
/// `$` and then the parameter); a `$` anywhere else is literal.
public struct PlaceholderString: Sendable, Hashable {
    /// A piece of the string.
    public enum Segment: Sendable, Hashable {
        /// Literal text, escapes already undone.
        case text(String)
        case placeholder(Placeholder)
    }

    /// The pieces, in order; adjacent text is merged.
    public var segments: [Segment]

    public init(segments: [Segment]) {
        self.segments = segments
    }

    /// A syntax error in a placeholder.
    public struct SyntaxError: Error, Sendable, Hashable {
        /// What is wrong, quoting the placeholder.
        public var message: String

        public init(message: String) {
            self.message = message
        }
    }

    /// Whether `string` may hold a placeholder or an escape at all; most strings do not,
    /// and skip parsing.
    public static func mayContainPlaceholders(_ string: String) -> Bool {
        string.utf8.contains(UInt8(ascii: "$"))
    }

    /// Splits `string` into text and placeholders.
    public init(parsing string: String) throws(SyntaxError) {
        var segments: [Segment] = []
        var text: [UInt8] = []
        let bytes = Array(string.utf8)
        var position = 0

        func flushText() {
            if !text.isEmpty {
                segments.append(.text(String(decoding: text, as: UTF8.self)))
                text.removeAll(keepingCapacity: true)
            }
        }

        while position < bytes.count {
            guard bytes[position] == UInt8(ascii: "$") else {
                text.append(bytes[position])
                position += 1
                continue
            }
            // A run of `$`: before `{`, each `$$` is one literal `$`, and an odd one out
            // starts a placeholder. Elsewhere every `$` is literal.
            var end = position
            while end < bytes.count, bytes[end] == UInt8(ascii: "$") { end += 1 }
            let run = end - position
            guard end < bytes.count, bytes[end] == UInt8(ascii: "{") else {
                text.append(contentsOf: repeatElement(UInt8(ascii: "$"), count: run))
                position = end
                continue
            }
            text.append(contentsOf: repeatElement(UInt8(ascii: "$"), count: run / 2))
            if run % 2 == 0 {
                text.append(UInt8(ascii: "{"))
                position = end + 1
                continue
            }
            position = end - 1
            guard let close = bytes[(position + 2)...].firstIndex(of: UInt8(ascii: "}")) else {
                let rest = String(decoding: bytes[position...], as: UTF8.self)
                throw SyntaxError(message: "unterminated placeholder \(quoted(rest)): missing '}'")
            }
            let body = String(decoding: bytes[(position + 2)..<close], as: UTF8.self)
            flushText()
            segments.append(.placeholder(try Self.placeholder(body)))
            position = close + 1
        }
        flushText()
        self.segments = segments
    }

    private static func placeholder(_ body: String) throws(SyntaxError) -> Placeholder {
        let parts = body.split(separator: ".", maxSplits: 3, omittingEmptySubsequences: false)
        if parts.count == 2, parts[0] == "params" {
            guard Names.isParameterName(parts[1].utf8) else {
                throw SyntaxError(
                    message: "invalid parameter name in \(quoted("${\(body)}")): \(Names.parameterNameRule)")
            }
            return .parameter(String(parts[1]))
        }
        if parts.count == 4, parts[0] == "resources", parts[2] == "outputs" {
            guard Names.isResourceName(parts[1].utf8) else {
                throw SyntaxError(
                    message: "invalid resource name in \(quoted("${\(body)}")): \(Names.resourceNameRule)")
            }
            guard Names.isOutputKey(parts[3].utf8) else {
                throw SyntaxError(
                    message: "invalid output key in \(quoted("${\(body)}")): letters, digits, '_', '-' and '.' only"
                )
            }
            return .output(resource: String(parts[1]), key: String(parts[3]))
        }
        throw SyntaxError(
            message:
                "invalid placeholder \(quoted("${\(body)}")): expected ${params.NAME} or ${resources.NAME.outputs.KEY}"
        )
    }

    /// The string written back with placeholders and escapes, so that parsing it again
    /// gives these segments.
    public var text: String {
        // Adjacent text is escaped as one, so that a `$` ending one piece and a `{` starting
        // the next cannot meet as an unescaped `${`.
        var merged: [Segment] = []
        for segment in segments {
            if case .text(let text) = segment, case .text(let previous)? = merged.last {
                merged[merged.count - 1] = .text(previous + text)
            } else {
                merged.append(segment)
            }
        }
        let segments = merged
        var result = ""
        for (position, segment) in segments.enumerated() {
            switch segment {
            case .text(let text):
                let beforePlaceholder =
                    if position + 1 < segments.count, case .placeholder = segments[position + 1] { true } else { false }
                result += Self.escape(text, beforePlaceholder: beforePlaceholder)
            case .placeholder(let placeholder):
                result += placeholder.description
            }
        }
        return result
    }

    /// `text` escaped so that it reads back as literal text: each run of `$` before `{` (or
    /// at the end, when a placeholder follows) is doubled.
    public static func escape(_ text: String, beforePlaceholder: Bool = false) -> String {
        guard text.utf8.contains(UInt8(ascii: "$")) else { return text }
        var result: [UInt8] = []
        let bytes = Array(text.utf8)
        var position = 0
        while position < bytes.count {
            guard bytes[position] == UInt8(ascii: "$") else {
                result.append(bytes[position])
                position += 1
                continue
            }
            var end = position
            while end < bytes.count, bytes[end] == UInt8(ascii: "$") { end += 1 }
            let run = end - position
            let doubled = end < bytes.count ? bytes[end] == UInt8(ascii: "{") : beforePlaceholder
            result.append(contentsOf: repeatElement(UInt8(ascii: "$"), count: doubled ? run * 2 : run))
            position = end
        }
        return String(decoding: result, as: UTF8.self)
    }
}
