/// Walks the strings of params, where placeholders live.
enum ParamsWalk {
    /// `value` with each string replaced by what `transform` returns for it (nil keeps the
    /// string); nil when nothing changed, so unchanged subtrees are shared, not copied.
    /// `path` is the value's path on entry and on return.
    static func rewrite(
        _ value: SpecValue,
        path: inout SpecPath,
        _ transform: (String, SourceMark?, SpecPath) -> SpecValue?
    ) -> SpecValue? {
        switch value.content {
        case .string(let string):
            guard PlaceholderString.mayContainPlaceholders(string) else { return nil }
            return transform(string, value.mark, path)
        case .list(let items):
            var result: [SpecValue]?
            for (index, item) in items.enumerated() {
                path.components.append(.index(index))
                if let changed = rewrite(item, path: &path, transform) {
                    if result == nil { result = items }
                    result![index] = changed
                }
                path.components.removeLast()
            }
            return result.map { SpecValue(.list($0), mark: value.mark) }
        case .map(let map):
            return rewrite(map, path: &path, transform).map { SpecValue(.map($0), mark: value.mark) }
        default:
            return nil
        }
    }

    static func rewrite(
        _ map: SpecMap,
        path: inout SpecPath,
        _ transform: (String, SourceMark?, SpecPath) -> SpecValue?
    ) -> SpecMap? {
        var result: SpecMap?
        for (key, entry) in map {
            path.components.append(.key(key))
            if let changed = rewrite(entry, path: &path, transform) {
                if result == nil { result = map }
                result![key] = changed
            }
            path.components.removeLast()
        }
        return result
    }

    /// Whether any string inside `map` may hold placeholders.
    static func mayHavePlaceholders(_ map: SpecMap) -> Bool {
        map.values.contains(where: mayHavePlaceholders)
    }

    static func mayHavePlaceholders(_ value: SpecValue) -> Bool {
        switch value.content {
        case .string(let string): PlaceholderString.mayContainPlaceholders(string)
        case .list(let items): items.contains(where: mayHavePlaceholders)
        case .map(let map): mayHavePlaceholders(map)
        default: false
        }
    }

    /// Calls `body` for each string that may hold placeholders.
    static func forEachString(
        in map: SpecMap, at path: @autoclosure () -> SpecPath, _ body: (String, SourceMark?, SpecPath) -> Void
    ) {
        guard mayHavePlaceholders(map) else { return }
        var path = path()
        _ = rewrite(map, path: &path) { string, mark, path in
            body(string, mark, path)
            return nil
        }
    }
}

/// Checks of placeholders that need no environment.
enum TemplateChecks {
    /// Reports each string of `params` whose placeholders do not parse.
    static func checkSyntax(_ params: SpecMap, at path: @autoclosure () -> SpecPath, _ diagnostics: inout Diagnostics) {
        ParamsWalk.forEachString(in: params, at: path()) { string, mark, path in
            do throws(PlaceholderString.SyntaxError) {
                _ = try PlaceholderString(parsing: string)
            } catch {
                diagnostics.report(.invalidPlaceholder, at: path, mark: mark, error.message)
            }
        }
    }

    /// Reports references from a template's resources to parameters it does not declare and
    /// resources it does not have, and dependency cycles among its resources.
    static func checkReferences(_ template: Template, limits: SpecLimits, _ diagnostics: inout Diagnostics) {
        let resources = template.resources
        var positions = [String: Int](minimumCapacity: resources.count)
        for index in resources.indices {
            // The first of a repeated name keeps its place (one hash when names differ).
            if let first = positions.updateValue(index, forKey: resources[index].name) {
                positions[resources[index].name] = first
            }
        }
        let resolver = ParamsResolver(
            declared: Set(template.parameters.map(\.name)), values: nil, resources: positions)
        var dependencies: [[Int]] = []
        dependencies.reserveCapacity(resources.count)
        for index in resources.indices {
            var edges: [Int] = []
            _ = resolver.resolve(
                resources[index].params, at: SpecPath("spec", "resources", resources[index].name, "params"), &edges,
                &diagnostics)
            resolver.addDependsOn(
                resources[index].dependsOn, at: SpecPath("spec", "resources", resources[index].name, "dependsOn"),
                &edges, &diagnostics)
            dependencies.append(ResourceGraph.normalized(edges))
        }
        guard diagnostics.isEmpty else { return }
        do throws(ResourceGraph.CycleError) {
            _ = try ResourceGraph(names: template.resources.map(\.name), dependencies: dependencies)
        } catch {
            diagnostics.report(.dependencyCycle, at: SpecPath("spec", "resources", error.cycle[0]), error.message)
        }
    }
}
