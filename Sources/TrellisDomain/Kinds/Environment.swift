/// An instance of a template: its parameters, extra resources, owner, placement, time to
/// live and reconcile mode.
public struct Environment: Sendable, Hashable {
    /// `metadata.name`.
    public var name: String
    /// `metadata.team`: the owning team.
    public var team: String?
    /// `metadata.labels`; the `type` label is the environment type that definitions match.
    public var labels: [String: String]
    /// `spec.template`.
    public var template: TemplateReference
    /// `spec.parameters`: values for the template's parameters.
    public var parameters: SpecMap
    /// `spec.dependencies`: resources added to the template's, shaped like them.
    public var dependencies: [ResourceSpec]
    /// `spec.ttl`: how long after creation the environment is deleted; nil for never.
    public var ttl: Duration?
    /// `spec.reconcile`.
    public var reconcile: ReconcileMode
    /// `spec.placement`: where resources run (agent labels), unless a resource says otherwise.
    public var placement: SpecMap
    /// Where the environment was read from.
    public var origin: SpecOrigin

    public init(
        name: String,
        team: String? = nil,
        labels: [String: String] = [:],
        template: TemplateReference,
        parameters: SpecMap = [:],
        dependencies: [ResourceSpec] = [],
        ttl: Duration? = nil,
        reconcile: ReconcileMode = .auto,
        placement: SpecMap = [:],
        origin: SpecOrigin = .unknown
    ) {
        self.name = name
        self.team = team
        self.labels = labels
        self.template = template
        self.parameters = parameters
        self.dependencies = dependencies
        self.ttl = ttl
        self.reconcile = reconcile
        self.placement = placement
        self.origin = origin
    }
}

/// The template an environment instantiates: `template: NAME` or
/// `template: {name: NAME, version: N}`.
public struct TemplateReference: Sendable, Hashable {
    /// The template's name.
    public var name: String
    /// A pinned version; nil for the latest.
    public var version: Int?

    public init(name: String, version: Int? = nil) {
        self.name = name
        self.version = version
    }
}

/// What happens when an agent observes drift from the applied spec.
public enum ReconcileMode: String, Sendable, Hashable, CaseIterable {
    /// Re-apply the resource.
    case auto
    /// Only report the drift.
    case report
}
