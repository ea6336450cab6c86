/// A named, versioned set of resources with parameters: what an environment instantiates.
///
/// Read from a document of kind `Template`; see docs/spec.md.
public struct Template: Sendable, Hashable {
    /// `metadata.name`.
    public var name: String
    /// `metadata.version`: an integer that a new revision of the template increases.
    public var version: Int
    /// `metadata.labels`.
    public var labels: [String: String]
    /// `spec.parameters`, in the order written.
    public var parameters: [TemplateParameter]
    /// `spec.resources`, in the order written.
    public var resources: [ResourceSpec]
    /// Where the template was read from.
    public var origin: SpecOrigin

    public init(
        name: String,
        version: Int = 1,
        labels: [String: String] = [:],
        parameters: [TemplateParameter] = [],
        resources: [ResourceSpec] = [],
        origin: SpecOrigin = .unknown
    ) {
        self.name = name
        self.version = version
        self.labels = labels
        self.parameters = parameters
        self.resources = resources
        self.origin = origin
    }

    /// The parameter called `name`.
    public func parameter(named name: String) -> TemplateParameter? {
        parameters.first { $0.name == name }
    }
}

/// The type of a template parameter.
public enum ParameterType: String, Sendable, Hashable, CaseIterable {
    case string, int, bool, list, map

    /// Whether `value` is of this type.
    public func accepts(_ value: SpecValue) -> Bool {
        switch (self, value.content) {
        case (.string, .string), (.int, .int), (.bool, .bool), (.list, .list), (.map, .map): true
        default: false
        }
    }
}

/// One entry of a template's `spec.parameters`.
public struct TemplateParameter: Sendable, Hashable {
    /// The name, used as `${params.NAME}`: a letter or `_`, then letters, digits or `_`.
    public var name: String
    /// `type`.
    public var type: ParameterType
    /// `required`: an environment must give a value. Default false.
    public var isRequired: Bool
    /// `default`: the value when an environment gives none; of `type`.
    public var defaultValue: SpecValue?
    /// `description`, for people.
    public var description: String?

    public init(
        name: String,
        type: ParameterType,
        isRequired: Bool = false,
        defaultValue: SpecValue? = nil,
        description: String? = nil
    ) {
        self.name = name
        self.type = type
        self.isRequired = isRequired
        self.defaultValue = defaultValue
        self.description = description
    }
}

/// A resource as a template (or an environment's `dependencies`) declares it.
public struct ResourceSpec: Sendable, Hashable {
    /// The key under `resources`: a DNS label, `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63
    /// characters.
    public var name: String
    /// `type`: what kind of resource, realised through a `ResourceDefinition` or a built-in
    /// type.
    public var type: String
    /// `params`: the driver's input; strings may hold placeholders.
    public var params: SpecMap
    /// `dependsOn`: resources that must be ready first, beyond those its placeholders name.
    public var dependsOn: [String]
    /// `placement`: where the resource runs (agent labels), over the environment's.
    public var placement: SpecMap

    public init(
        name: String,
        type: String,
        params: SpecMap = [:],
        dependsOn: [String] = [],
        placement: SpecMap = [:]
    ) {
        self.name = name
        self.type = type
        self.params = params
        self.dependsOn = dependsOn
        self.placement = placement
    }
}
