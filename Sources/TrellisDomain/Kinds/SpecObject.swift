/// A document read as one of the kinds.
public enum SpecObject: Sendable, Hashable {
    case template(Template)
    case resourceDefinition(ResourceDefinition)
    case environment(Environment)

    /// The document's `kind`.
    public var kind: String {
        switch self {
        case .template: "Template"
        case .resourceDefinition: "ResourceDefinition"
        case .environment: "Environment"
        }
    }

    /// The document's `metadata.name`.
    public var name: String {
        switch self {
        case .template(let template): template.name
        case .resourceDefinition(let definition): definition.name
        case .environment(let environment): environment.name
        }
    }

    /// The kinds, by the name documents give them.
    public static let kinds = ["Template", "ResourceDefinition", "Environment"]
}

/// One document of an input, read as a kind.
public struct SpecDocument: Sendable, Hashable {
    /// The position in the input, counted from 1.
    public var index: Int
    /// What the document declares.
    public var object: SpecObject

    public init(index: Int, object: SpecObject) {
        self.index = index
        self.object = object
    }
}
