/// The dependency graph of an environment's resources, with its topological layers.
///
/// Nodes are positions in `names`. Building it rejects cycles; every algorithm here is
/// iterative and linear in nodes plus edges, so a 100,000-deep chain is as cheap as a wide
/// graph.
public struct ResourceGraph: Sendable, Hashable {
    /// The resources, in declaration order.
    public let names: [String]
    /// For each node, the nodes it depends on, ascending.
    public let dependencies: [[Int]]
    /// For each node, the nodes that depend on it, ascending.
    public let dependents: [[Int]]
    /// For each node, its layer: 0 without dependencies, else one more than the latest
    /// layer among its dependencies.
    public let layerOfNode: [Int]
    /// The nodes of each layer, ascending. Apply runs them in this order; the resources of
    /// one layer do not depend on each other.
    public let layers: [[Int]]

    /// Resources depend on each other in a cycle.
    public struct CycleError: Error, Sendable, Hashable {
        /// The resources of the cycle in dependency order, starting from the one declared
        /// first; each depends on the next, and the last on the first.
        public var cycle: [String]

        /// `dependency cycle: a -> b -> c -> a`, where `->` reads "depends on".
        public var message: String {
            "dependency cycle: " + (cycle + [cycle[0]]).joined(separator: " -> ")
        }
    }

    /// The graph of `names` where node `i` depends on each node in `dependencies[i]`.
    ///
    /// - Precondition: every dependency is a valid node.
    /// - Throws: `CycleError` naming one cycle, the same one for the same input.
    public init(names: [String], dependencies: [[Int]]) throws(CycleError) {
        precondition(names.count == dependencies.count, "one dependency list per node")
        let count = names.count
        let dependencies = dependencies.map(Self.normalized)

        var dependents = [[Int]](repeating: [], count: count)
        var remaining = [Int](repeating: 0, count: count)
        for node in 0..<count {
            remaining[node] = dependencies[node].count
            for dependency in dependencies[node] {
                precondition(dependency >= 0 && dependency < count, "dependency \(dependency) is not a node")
                dependents[dependency].append(node)
            }
        }

        // Kahn's algorithm; nodes are visited in an order where dependencies come first.
        var layerOfNode = [Int](repeating: 0, count: count)
        var queue: [Int] = []
        queue.reserveCapacity(count)
        for node in 0..<count where remaining[node] == 0 {
            queue.append(node)
        }
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            for dependent in dependents[node] {
                layerOfNode[dependent] = max(layerOfNode[dependent], layerOfNode[node] + 1)
                remaining[dependent] -= 1
                if remaining[dependent] == 0 { queue.append(dependent) }
            }
        }
        guard queue.count == count else {
            throw CycleError(cycle: Self.findCycle(names: names, dependencies: dependencies, remaining: remaining))
        }

        var layers: [[Int]] = []
        for node in 0..<count {
            let layer = layerOfNode[node]
            while layers.count <= layer { layers.append([]) }
            layers[layer].append(node)
        }

        self.names = names
        self.dependencies = dependencies
        self.dependents = dependents
        self.layerOfNode = layerOfNode
        self.layers = layers
    }

    /// The graph of named resources, each depending on the resources its list names.
    ///
    /// - Precondition: every dependency names a resource of `names`.
    public init(names: [String], dependencies: [[String]]) throws(CycleError) {
        var positions: [String: Int] = [:]
        positions.reserveCapacity(names.count)
        for (position, name) in names.enumerated() {
            positions[name] = position
        }
        try self.init(
            names: names,
            dependencies: dependencies.map { list in
                list.map { name in
                    guard let position = positions[name] else { preconditionFailure("unknown resource \(name)") }
                    return position
                }
            }
        )
    }

    /// The layers by name.
    public var layerNames: [[String]] {
        layers.map { $0.map { names[$0] } }
    }

    /// The layers in the order deletion walks them: a resource is deleted only after every
    /// resource that depends on it.
    public var reverseLayers: [[Int]] { layers.reversed() }

    /// The nodes in an order where every node comes after its dependencies.
    public var topologicalOrder: [Int] { layers.flatMap { $0 } }

    /// The longest path through the graph when each node takes `durations[node]`: the
    /// least wall time an apply with unbounded parallelism can take, and the nodes on it
    /// from first to last.
    public func criticalPath(durations: [Duration]) -> (duration: Duration, path: [Int]) {
        precondition(durations.count == names.count, "one duration per node")
        guard !names.isEmpty else { return (.zero, []) }
        var finish = [Duration](repeating: .zero, count: names.count)
        var previous = [Int](repeating: -1, count: names.count)
        for node in topologicalOrder {
            var start = Duration.zero
            for dependency in dependencies[node] where previous[node] < 0 || finish[dependency] > start {
                start = finish[dependency]
                previous[node] = dependency
            }
            finish[node] = start + durations[node]
        }
        var last = 0
        for node in 1..<names.count where finish[node] > finish[last] {
            last = node
        }
        var path = [last]
        while previous[path[path.count - 1]] >= 0 {
            path.append(previous[path[path.count - 1]])
        }
        return (finish[last], path.reversed())
    }

    /// `edges` sorted, without repeats.
    static func normalized(_ edges: [Int]) -> [Int] {
        guard edges.count > 1 else { return edges }
        var sorted = edges.sorted()
        var kept = 1
        for position in 1..<sorted.count where sorted[position] != sorted[kept - 1] {
            sorted[kept] = sorted[position]
            kept += 1
        }
        sorted.removeLast(sorted.count - kept)
        return sorted
    }

    /// One cycle among the nodes Kahn's algorithm could not visit. Each of those has a
    /// dependency that is also unvisited, so following the first such dependency from the
    /// first such node must come back to a node already on the walk.
    private static func findCycle(names: [String], dependencies: [[Int]], remaining: [Int]) -> [String] {
        guard let start = remaining.firstIndex(where: { $0 > 0 }) else { return [] }
        var positionOnWalk: [Int: Int] = [:]
        var walk: [Int] = []
        var node = start
        while positionOnWalk[node] == nil {
            positionOnWalk[node] = walk.count
            walk.append(node)
            node = dependencies[node].first { remaining[$0] > 0 }!
        }
        var cycle = Array(walk[positionOnWalk[node]!...])
        let first = cycle.indices.min { cycle[$0] < cycle[$1] }!
        cycle = Array(cycle[first...] + cycle[..<first])
        return cycle.map { names[$0] }
    }
}
