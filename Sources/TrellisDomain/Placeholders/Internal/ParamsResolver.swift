/// Resolves the placeholders of one environment's params: substitutes parameters (when
/// `values` is given), keeps resource placeholders, and collects the resources they name
/// as dependency edges.
struct ParamsResolver {
    /// The parameters the template declares.
    var declared: Set<String>
    /// The value of each parameter that has one; nil only checks references.
    var values: [String: SpecValue]?
    /// Every resource of the environment, by name, to its position.
    var resources: [String: Int]
    /// Parameters whose missing value was reported already, and is not reported again at
    /// each use.
    var reportedMissing: Set<String> = []

    /// `params` with parameter placeholders substituted; edges to named resources are
    /// appended to `edges`.
    func resolve(
        _ params: SpecMap,
        at path: @autoclosure () -> SpecPath,
        _ edges: inout [Int],
        _ diagnostics: inout Diagnostics
    ) -> SpecMap {
        // Most params hold no placeholder at all: then there is nothing to walk a path for.
        guard ParamsWalk.mayHavePlaceholders(params) else { return params }
        var path = path()
        let changed = ParamsWalk.rewrite(params, path: &path) { string, mark, path in
            resolve(string, mark: mark, at: path, &edges, &diagnostics)
        }
        return changed ?? params
    }

    func addDependsOn(
        _ names: [String], at path: @autoclosure () -> SpecPath, _ edges: inout [Int],
        _ diagnostics: inout Diagnostics
    ) {
        for (index, name) in names.enumerated() {
            if let position = resources[name] {
                edges.append(position)
            } else {
                diagnostics.report(.unknownResource, at: path() / index, "unknown resource \(quoted(name))")
            }
        }
    }

    private func resolve(
        _ string: String,
        mark: SourceMark?,
        at path: SpecPath,
        _ edges: inout [Int],
        _ diagnostics: inout Diagnostics
    ) -> SpecValue? {
        let parsed: PlaceholderString
        do throws(PlaceholderString.SyntaxError) {
            parsed = try PlaceholderString(parsing: string)
        } catch {
            diagnostics.report(.invalidPlaceholder, at: path, mark: mark, error.message)
            return nil
        }

        var hasParameters = false
        var valid = true
        for case .placeholder(let placeholder) in parsed.segments {
            switch placeholder {
            case .output(let resource, _):
                if let position = resources[resource] {
                    edges.append(position)
                } else {
                    diagnostics.report(
                        .unknownResource,
                        at: path,
                        mark: mark,
                        "unknown resource \(quoted(resource)) in \(placeholder)"
                    )
                }
            case .parameter(let name):
                hasParameters = true
                if !declared.contains(name) {
                    diagnostics.report(.unknownParameter, at: path, mark: mark, "unknown parameter \(quoted(name))")
                    valid = false
                } else if let values, values[name] == nil {
                    valid = false
                    if reportedMissing.contains(name) { continue }
                    diagnostics.report(
                        .parameterNotSet,
                        at: path,
                        mark: mark,
                        "parameter \(quoted(name)) has no value and no default"
                    )
                }
            }
        }
        guard hasParameters, valid, let values else { return nil }

        // A string that is one parameter placeholder takes the parameter's value and type.
        if parsed.segments.count == 1, case .placeholder(.parameter(let name)) = parsed.segments[0] {
            return Self.escapingStrings(values[name]!).withMark(mark)
        }
        var segments: [PlaceholderString.Segment] = []
        for segment in parsed.segments {
            if case .placeholder(.parameter(let name)) = segment {
                segments.append(.text(values[name]!.interpolationText))
            } else {
                segments.append(segment)
            }
        }
        return SpecValue(.string(PlaceholderString(segments: segments).text), mark: mark)
    }

    /// A parameter's value as it goes into resolved params, whose strings are still read
    /// for placeholders later: each string escaped.
    private static func escapingStrings(_ value: SpecValue) -> SpecValue {
        switch value.content {
        case .string(let string): .string(PlaceholderString.escape(string))
        case .list(let items): SpecValue(.list(items.map(escapingStrings)), mark: value.mark)
        case .map(let map): SpecValue(.map(map.mapValues(escapingStrings)), mark: value.mark)
        default: value
        }
    }
}

extension SpecValue {
    /// The value as it reads inside a longer string: strings as they are, anything else as
    /// canonical JSON.
    var interpolationText: String {
        if case .string(let string) = content { return string }
        return canonicalJSON
    }

    func withMark(_ mark: SourceMark?) -> SpecValue {
        var value = self
        value.mark = mark ?? self.mark
        return value
    }
}
