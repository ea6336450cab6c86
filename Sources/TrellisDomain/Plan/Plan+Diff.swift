extension Plan {
    /// The plan that takes `current` to `desired`.
    ///
    /// Linear in the number of resources (plus the size of params that differ).
    public static func diff(desired: ResolvedEnvironment, current: [AppliedResource]) -> Plan {
        var applied: [String: AppliedResource] = [:]
        applied.reserveCapacity(current.count)
        for resource in current {
            applied[resource.name] = resource
        }

        var steps: [Step] = []
        steps.reserveCapacity(desired.resources.count + current.count)
        let graph = desired.graph
        for (layer, nodes) in graph.layers.enumerated() {
            for node in nodes {
                // The resource is read in place, not copied, unless it was applied before;
                // with nothing applied (a new environment) no name is looked up either.
                let name = desired.resources[node].name
                guard !applied.isEmpty, let old = applied[name] else {
                    steps.append(Step(resource: name, action: .create, layer: layer))
                    continue
                }
                let changes = Self.changes(from: old, to: desired.resources[node])
                steps.append(
                    Step(resource: name, action: changes.isEmpty ? .unchanged : .update(changes), layer: layer))
            }
        }
        guard !current.isEmpty else { return Plan(steps: steps, deletionLayers: []) }

        var desiredNames = Set<String>()
        desiredNames.reserveCapacity(desired.resources.count)
        for resource in desired.resources {
            desiredNames.insert(resource.name)
        }
        let deleted = current.filter { !desiredNames.contains($0.name) }
        let deletionLayers = Self.deletionLayers(deleted)
        for (layer, names) in deletionLayers.enumerated() {
            for name in names {
                steps.append(Step(resource: name, action: .delete, layer: layer))
            }
        }
        return Plan(steps: steps, deletionLayers: deletionLayers)
    }

    /// What differs between the applied and the desired form of one resource.
    static func changes(from old: AppliedResource, to new: ResolvedResource) -> [Change] {
        var changes: [Change] = []
        if old.type != new.type { changes.append(.type(from: old.type, to: new.type)) }
        if old.driver != new.driver { changes.append(.driver(from: old.driver, to: new.driver)) }
        if old.params != new.params {
            var paths: [String] = []
            var path = SpecPath("params")
            ValueDifference.paths(.map(old.params), .map(new.params), &path, into: &paths)
            changes.append(.params(paths))
        }
        guard old.dependencies != new.dependencies else { return changes }
        let oldDependencies = Set(old.dependencies)
        let newDependencies = Set(new.dependencies)
        if oldDependencies != newDependencies {
            changes.append(
                .dependencies(
                    added: newDependencies.subtracting(oldDependencies).sorted(),
                    removed: oldDependencies.subtracting(newDependencies).sorted()
                )
            )
        }
        return changes
    }

    /// The deleted resources by layer, dependents first. Dependencies on resources that
    /// stay are ignored; stored dependencies that form a cycle (which resolution never
    /// produces) fall back to one layer in stored order.
    static func deletionLayers(_ deleted: [AppliedResource]) -> [[String]] {
        guard !deleted.isEmpty else { return [] }
        var positions: [String: Int] = [:]
        for (position, resource) in deleted.enumerated() {
            positions[resource.name] = position
        }
        let dependencies = deleted.map { resource in resource.dependencies.compactMap { positions[$0] } }
        do throws(ResourceGraph.CycleError) {
            let graph = try ResourceGraph(names: deleted.map(\.name), dependencies: dependencies)
            return graph.reverseLayers.map { $0.map { graph.names[$0] } }
        } catch {
            return [deleted.map(\.name)]
        }
    }
}

/// The paths at which two values differ.
enum ValueDifference {
    /// Appends to `paths` each path under `path` where `old` and `new` differ: keys present
    /// in one only, scalars that differ, and lists of different lengths as a whole.
    static func paths(_ old: SpecValue, _ new: SpecValue, _ path: inout SpecPath, into paths: inout [String]) {
        switch (old.content, new.content) {
        case (.map(let oldMap), .map(let newMap)):
            for (key, oldValue) in oldMap {
                path.components.append(.key(key))
                if let newValue = newMap[key] {
                    if oldValue != newValue { Self.paths(oldValue, newValue, &path, into: &paths) }
                } else {
                    paths.append(path.description)
                }
                path.components.removeLast()
            }
            for key in newMap.keys where oldMap[key] == nil {
                paths.append((path / key).description)
            }
        case (.list(let oldItems), .list(let newItems)) where oldItems.count == newItems.count:
            for index in oldItems.indices where oldItems[index] != newItems[index] {
                path.components.append(.index(index))
                Self.paths(oldItems[index], newItems[index], &path, into: &paths)
                path.components.removeLast()
            }
        default:
            if old != new { paths.append(path.description) }
        }
    }
}
