/// An environment with its template and definitions resolved: every resource with its
/// driver, its params (parameters substituted, resource placeholders kept), its
/// dependencies, and the graph they form.
public struct ResolvedEnvironment: Sendable, Hashable {
    /// The environment as requested.
    public var environment: Environment
    /// The template it instantiates, with the version that was resolved.
    public var template: TemplateReference
    /// The value of every template parameter that has one, given or defaulted, in the
    /// template's order.
    public var parameters: SpecMap
    /// The resources: the template's in its order, then the environment's dependencies.
    public var resources: [ResolvedResource]
    /// The dependency graph; node `i` is `resources[i]`.
    public var graph: ResourceGraph

    public init(
        environment: Environment,
        template: TemplateReference,
        parameters: SpecMap,
        resources: [ResolvedResource],
        graph: ResourceGraph
    ) {
        precondition(resources.map(\.name) == graph.names, "the graph's nodes are the resources")
        self.environment = environment
        self.template = template
        self.parameters = parameters
        self.resources = resources
        self.graph = graph
    }

    /// The environment's name.
    public var name: String { environment.name }

    /// The resources by layer, as names: layer 0 has no dependencies.
    public var layers: [[String]] { graph.layerNames }

    /// The resources by layer in deletion order: dependents before their dependencies.
    public var reverseLayers: [[String]] { graph.reverseLayers.map { $0.map { graph.names[$0] } } }

    /// The longest chain of resources when each takes the duration `durations` gives it:
    /// the shortest possible wall time of an apply.
    public func criticalPath(durations: (ResolvedResource) -> Duration) -> (duration: Duration, path: [String]) {
        let result = graph.criticalPath(durations: resources.map(durations))
        return (result.duration, result.path.map { graph.names[$0] })
    }
}

/// One resource of a resolved environment.
public struct ResolvedResource: Sendable, Hashable {
    /// Where a resource was declared.
    public enum Source: Sendable, Hashable {
        /// In the template's `spec.resources`.
        case template
        /// In the environment's `spec.dependencies`.
        case environment
    }

    /// The resource's name, unique in its environment.
    public var name: String
    /// Its type, as declared.
    public var type: String
    /// The driver that applies it: the matched definition's, or the built-in type's.
    public var driver: String
    /// The name of the resource definition used; nil for a built-in type.
    public var definition: String?
    /// The params: the definition's defaults under the resource's own, parameter
    /// placeholders substituted, resource placeholders still to be filled at apply time
    /// (see `Substitution.substitute`).
    public var params: SpecMap
    /// The resources it depends on, through placeholders or `dependsOn`, sorted by name.
    public var dependencies: [String]
    /// Where it runs: the environment's placement with the resource's over it.
    public var placement: SpecMap
    /// Where it was declared.
    public var source: Source

    public init(
        name: String,
        type: String,
        driver: String,
        definition: String? = nil,
        params: SpecMap = [:],
        dependencies: [String] = [],
        placement: SpecMap = [:],
        source: Source = .template
    ) {
        self.name = name
        self.type = type
        self.driver = driver
        self.definition = definition
        self.params = params
        self.dependencies = dependencies
        self.placement = placement
        self.source = source
    }
}

/// A step of admission that runs after resolution, before planning: policies (deny,
/// mutate with defaults, limits) implement it.
///
/// A step may change params, labels and placement; it must not add, remove or rename
/// resources or change their dependencies, which the graph was built from.
public protocol AdmissionStep: Sendable {
    /// Checks `environment`, possibly changing it, and returns every violation found
    /// (empty to admit). Violations should name the path they concern.
    func admit(_ environment: inout ResolvedEnvironment) -> [SpecError]
}
