/// The document an error belongs to: its position in its input and, once known, its kind
/// and name.
public struct SpecDocumentReference: Sendable, Hashable {
    /// The position of the document in its input, counted from 1.
    public var index: Int?
    /// The document's `kind`, when it was read.
    public var kind: String?
    /// The document's `metadata.name`, when it was read.
    public var name: String?

    public init(index: Int? = nil, kind: String? = nil, name: String? = nil) {
        self.index = index
        self.kind = kind
        self.name = name
    }
}

/// One violation in a spec: where it is and what is wrong.
///
/// `description` is one line:
/// `app.yaml: document 2 (Template backend-service): spec.resources.api.dependsOn[0]: unknown resource "confg"`,
/// with `:LINE:COLUMN` after the file when the position in the text is known.
public struct SpecError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of violation this is: an UPPER_SNAKE_CASE code that clients can match on.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The input is larger than `SpecLimits.maxInputBytes`.
        public static let inputTooLarge = Code(rawValue: "INPUT_TOO_LARGE")
        /// The text is not well-formed YAML (or JSON).
        public static let syntax = Code(rawValue: "YAML_SYNTAX")
        /// Lists and maps nest deeper than `SpecLimits.maxNestingDepth`.
        public static let nestingTooDeep = Code(rawValue: "NESTING_TOO_DEEP")
        /// Aliases produce more nodes than `SpecLimits.maxAliasExpansion`.
        public static let aliasExpansionLimit = Code(rawValue: "ALIAS_EXPANSION_LIMIT")
        /// An alias refers to the node that contains it.
        public static let recursiveAlias = Code(rawValue: "RECURSIVE_ALIAS")
        /// An alias refers to no anchor.
        public static let unknownAlias = Code(rawValue: "UNKNOWN_ALIAS")
        /// A map has the same key twice.
        public static let duplicateKey = Code(rawValue: "DUPLICATE_KEY")
        /// A map key is a list or a map.
        public static let invalidKey = Code(rawValue: "INVALID_KEY")
        /// A number is out of range or not finite.
        public static let invalidNumber = Code(rawValue: "INVALID_NUMBER")
        /// A YAML tag other than the standard scalar and collection tags.
        public static let unsupportedTag = Code(rawValue: "UNSUPPORTED_TAG")
        /// `apiVersion` names another group or version.
        public static let unsupportedAPIVersion = Code(rawValue: "UNSUPPORTED_API_VERSION")
        /// `kind` is not one of the kinds.
        public static let unknownKind = Code(rawValue: "UNKNOWN_KIND")
        /// A required field is absent.
        public static let missingField = Code(rawValue: "MISSING_FIELD")
        /// A field that the kind does not have.
        public static let unknownField = Code(rawValue: "UNKNOWN_FIELD")
        /// A value of the wrong type.
        public static let wrongType = Code(rawValue: "WRONG_TYPE")
        /// A value of the right type that is not allowed.
        public static let invalidValue = Code(rawValue: "INVALID_VALUE")
        /// A name that does not follow its naming rule.
        public static let invalidName = Code(rawValue: "INVALID_NAME")
        /// A duration that cannot be read.
        public static let invalidDuration = Code(rawValue: "INVALID_DURATION")
        /// A `${...}` that is not a placeholder.
        public static let invalidPlaceholder = Code(rawValue: "INVALID_PLACEHOLDER")
        /// A parameter that the template does not declare.
        public static let unknownParameter = Code(rawValue: "UNKNOWN_PARAMETER")
        /// A required parameter without a value.
        public static let missingParameter = Code(rawValue: "MISSING_PARAMETER")
        /// A placeholder names a parameter that has neither a value nor a default.
        public static let parameterNotSet = Code(rawValue: "PARAMETER_NOT_SET")
        /// A reference to a resource that the environment does not have.
        public static let unknownResource = Code(rawValue: "UNKNOWN_RESOURCE")
        /// Two resources with one name.
        public static let duplicateResource = Code(rawValue: "DUPLICATE_RESOURCE")
        /// More resources than `SpecLimits.maxResources`.
        public static let tooManyResources = Code(rawValue: "TOO_MANY_RESOURCES")
        /// The environment names another template or template version.
        public static let templateMismatch = Code(rawValue: "TEMPLATE_MISMATCH")
        /// No resource definition matches a resource's type.
        public static let noDefinition = Code(rawValue: "NO_DEFINITION")
        /// Several equally specific resource definitions match.
        public static let ambiguousDefinition = Code(rawValue: "AMBIGUOUS_DEFINITION")
        /// Resources depend on each other in a cycle.
        public static let dependencyCycle = Code(rawValue: "DEPENDENCY_CYCLE")
        /// A resource placeholder names an output that its resource did not produce.
        public static let missingOutput = Code(rawValue: "MISSING_OUTPUT")
        /// An admission step rejected the environment.
        public static let denied = Code(rawValue: "DENIED")
    }

    /// The file (or other input name) the document came from; empty when unknown.
    public var file: String
    /// The document, when the error belongs to one.
    public var document: SpecDocumentReference?
    /// The path inside the document, like `spec.resources.api.params.command[1]`; empty
    /// for the document as a whole.
    public var path: String
    /// The line in the source text, counted from 1, when known.
    public var line: Int?
    /// The column in the source text, counted from 1, when known.
    public var column: Int?
    /// What kind of violation this is.
    public var code: Code
    /// What is wrong, for people.
    public var message: String

    public init(
        file: String,
        document: SpecDocumentReference? = nil,
        path: String = "",
        line: Int? = nil,
        column: Int? = nil,
        code: Code,
        message: String
    ) {
        self.file = file
        self.document = document
        self.path = path
        self.line = line
        self.column = column
        self.code = code
        self.message = message
    }

    public var description: String {
        var parts: [String] = []
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        if !location.isEmpty { parts.append(location) }
        if let document {
            let named = [document.kind, document.name].compactMap { $0 }.joined(separator: " ")
            switch (document.index, named.isEmpty) {
            case (let index?, false): parts.append("document \(index) (\(named))")
            case (let index?, true): parts.append("document \(index)")
            case (nil, false): parts.append(named)
            case (nil, true): break
            }
        }
        if !path.isEmpty { parts.append(path) }
        parts.append(message)
        return parts.joined(separator: ": ")
    }
}

/// Every violation found in an input or a resolution, in the order they were found.
public struct SpecErrors: Error, Sendable, Hashable, CustomStringConvertible {
    /// The violations; never empty when thrown.
    public var errors: [SpecError]

    public init(_ errors: [SpecError]) {
        self.errors = errors
    }

    /// One line per violation.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
