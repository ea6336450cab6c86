/// How resources of one type are realised: the driver and its default params, for the
/// environments that its criteria match.
///
/// Among the definitions for a type whose criteria all hold for an environment, the one
/// with the most criteria wins; a definition without criteria is the fallback. See
/// `DefinitionMatch`.
public struct ResourceDefinition: Sendable, Hashable {
    /// `metadata.name`.
    public var name: String
    /// `spec.type`: the resource type this definition realises.
    public var type: String
    /// `spec.driver`: the agent driver that applies it.
    public var driver: String
    /// `spec.params`: defaults, under the resource's own params.
    public var params: SpecMap
    /// `spec.match`: when this definition applies.
    public var match: DefinitionMatch
    /// `metadata.labels`.
    public var labels: [String: String]
    /// Where the definition was read from.
    public var origin: SpecOrigin

    public init(
        name: String,
        type: String,
        driver: String,
        params: SpecMap = [:],
        match: DefinitionMatch = DefinitionMatch(),
        labels: [String: String] = [:],
        origin: SpecOrigin = .unknown
    ) {
        self.name = name
        self.type = type
        self.driver = driver
        self.params = params
        self.match = match
        self.labels = labels
        self.origin = origin
    }
}

/// The criteria of a resource definition (`spec.match`); each one set must hold.
public struct DefinitionMatch: Sendable, Hashable {
    /// `environmentType`: the environment's `type` label (`metadata.labels.type`).
    public var environmentType: String?
    /// `team`: the environment's owning team (`metadata.team`).
    public var team: String?
    /// `environmentLabels`: labels the environment must have, with these values.
    public var environmentLabels: [String: String]

    public init(environmentType: String? = nil, team: String? = nil, environmentLabels: [String: String] = [:]) {
        self.environmentType = environmentType
        self.team = team
        self.environmentLabels = environmentLabels
    }

    /// How many criteria there are: each label counts one, as do the type and the team.
    public var specificity: Int {
        environmentLabels.count + (environmentType == nil ? 0 : 1) + (team == nil ? 0 : 1)
    }

    /// Whether every criterion holds for `environment`.
    public func matches(_ environment: Environment) -> Bool {
        if let environmentType, environment.labels["type"] != environmentType { return false }
        if let team, environment.team != team { return false }
        return environmentLabels.allSatisfy { environment.labels[$0.key] == $0.value }
    }
}
