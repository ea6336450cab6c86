import TrellisDomain

/// Planning in process with the public domain API: decode the YAML, resolve the
/// environment, diff it against stored state. No I/O is timed.
struct PlanBenchmark {
    /// One round's phases, in milliseconds.
    struct Round: Sendable {
        var decode: Double
        var resolve: Double
        var diffEmpty: Double
        var diffPartial: Double
        /// CPUs' worth of other work on the machine during the round.
        var otherCPUs: Double
        /// Decode + resolve + diff against the empty state.
        var planEmpty: Double { decode + resolve + diffEmpty }
        /// Decode + resolve + diff against the partially applied state.
        var planPartial: Double { decode + resolve + diffPartial }
    }

    /// What the partially applied state makes the plan do, to check that it did.
    struct Counts: Sendable {
        var creates = 0
        var updates = 0
        var unchanged = 0
        var deletes = 0
    }

    let graph: BenchGraph
    /// The input: a Template and an Environment.
    let bytes: [UInt8]
    /// The partially applied state, and what a plan against it must come to.
    let state: [AppliedResource]
    private let decoder: SpecDecoder
    private let resolver: Resolver

    /// Generates the input and builds the state from one resolution, outside any round.
    init(graph: BenchGraph) throws {
        self.graph = graph
        bytes = Array(graph.yaml(name: "plan-\(graph.shape)").utf8)
        var limits = SpecLimits.default
        limits.maxInputBytes = 64 << 20
        decoder = SpecDecoder(limits: limits)
        resolver = Resolver(limits: limits)
        state = Self.partialState(try Self.resolve(decoder.decode(bytes, file: "bench.yaml"), resolver))
    }

    /// One timed round, and the counts of the partial plan.
    func round() throws -> (Round, Counts) {
        let clock = ContinuousClock()
        let otherWork = OtherWork()
        let start = clock.now
        let documents = try decoder.decode(bytes, file: "bench.yaml")
        let decoded = clock.now
        let resolved = try Self.resolve(documents, resolver)
        let resolvedAt = clock.now
        let empty = Plan.diff(desired: resolved, current: [])
        let diffedEmpty = clock.now
        let partial = Plan.diff(desired: resolved, current: state)
        let diffedPartial = clock.now

        precondition(empty.steps.count == graph.count, "a plan against nothing creates everything")
        let counts = Counts(
            creates: partial.creates.count, updates: partial.updates.count, unchanged: partial.unchanged.count,
            deletes: partial.deletes.count)
        let round = Round(
            decode: Scheduling.milliseconds(decoded - start),
            resolve: Scheduling.milliseconds(resolvedAt - decoded),
            diffEmpty: Scheduling.milliseconds(diffedEmpty - resolvedAt),
            diffPartial: Scheduling.milliseconds(diffedPartial - diffedEmpty),
            otherCPUs: otherWork.cpus())
        return (round, counts)
    }

    private static func resolve(_ documents: [SpecDocument], _ resolver: Resolver) throws -> ResolvedEnvironment {
        var template: Template?
        var environment: Environment?
        for document in documents {
            switch document.object {
            case .template(let value): template = value
            case .environment(let value): environment = value
            case .resourceDefinition: break
            }
        }
        guard let template, let environment else { preconditionFailure("the input has a template and an environment") }
        return try resolver.resolve(environment, template: template, definitions: [])
    }

    /// A state where the first half of the resources is applied: every 100th of those with
    /// other params (an update), the rest as desired (unchanged); plus 1,000 resources the
    /// environment no longer has, in a chain (deletes in 1,000 deletion layers).
    static func partialState(_ resolved: ResolvedEnvironment) -> [AppliedResource] {
        var state: [AppliedResource] = []
        let half = resolved.resources.count / 2
        state.reserveCapacity(half + 1_000)
        for (index, resource) in resolved.resources.prefix(half).enumerated() {
            var applied = AppliedResource(resource, outputs: ["id": .string(resource.name)])
            if index % 100 == 99 { applied.params = ["delay": "1ms"] }
            state.append(applied)
        }
        for index in 0..<1_000 {
            state.append(
                AppliedResource(
                    name: "gone\(index)", type: "noop", driver: "noop",
                    dependencies: index == 0 ? [] : ["gone\(index - 1)"]))
        }
        return state
    }
}
