/// What applying a resolved environment would change, compared with what is applied:
/// for each resource, create, update (with what changed), delete or leave unchanged.
///
/// Making a plan changes nothing. Params are compared as resolved (before outputs are
/// substituted), so a resource whose own spec is unchanged is unchanged even when an
/// output it consumes will differ; the engine sees that when it substitutes.
public struct Plan: Sendable, Hashable {
    /// What happens to one resource.
    public enum Action: Sendable, Hashable {
        case create
        case update([Change])
        case delete
        case unchanged
    }

    /// One difference between a resource's applied and desired form.
    public enum Change: Sendable, Hashable, CustomStringConvertible {
        case type(from: String, to: String)
        case driver(from: String, to: String)
        /// The paths of params that differ, like `params.command[1]`.
        case params([String])
        case dependencies(added: [String], removed: [String])

        public var description: String {
            switch self {
            case .type(let from, let to): "type \(quoted(from)) -> \(quoted(to))"
            case .driver(let from, let to): "driver \(quoted(from)) -> \(quoted(to))"
            case .params(let paths): paths.joined(separator: ", ")
            case .dependencies(let added, let removed):
                (added.map { "+\($0)" } + removed.map { "-\($0)" }).joined(separator: ", ")
            }
        }
    }

    /// One resource's action.
    public struct Step: Sendable, Hashable {
        public var resource: String
        public var action: Action
        /// The resource's layer: in the desired graph for create, update and unchanged; in
        /// deletion order (0 first) for delete.
        public var layer: Int

        public init(resource: String, action: Action, layer: Int) {
            self.resource = resource
            self.action = action
            self.layer = layer
        }
    }

    /// Every resource's step: the desired resources layer by layer, then the deletions in
    /// the order they may run.
    public var steps: [Step]
    /// The resources to delete, by layer, in deletion order: a resource comes after every
    /// resource being deleted that depended on it.
    public var deletionLayers: [[String]]

    public init(steps: [Step], deletionLayers: [[String]]) {
        self.steps = steps
        self.deletionLayers = deletionLayers
    }

    /// The resources to create.
    public var creates: [String] { names { $0 == .create } }
    /// The resources to update.
    public var updates: [String] { names { if case .update = $0 { true } else { false } } }
    /// The resources to delete, in deletion order.
    public var deletes: [String] { names { $0 == .delete } }
    /// The resources left as they are.
    public var unchanged: [String] { names { $0 == .unchanged } }

    /// Whether applying would change anything.
    public var hasChanges: Bool { steps.contains { $0.action != .unchanged } }

    /// The step of `resource`.
    public func step(for resource: String) -> Step? {
        steps.first { $0.resource == resource }
    }

    private func names(_ predicate: (Action) -> Bool) -> [String] {
        steps.filter { predicate($0.action) }.map(\.resource)
    }
}
