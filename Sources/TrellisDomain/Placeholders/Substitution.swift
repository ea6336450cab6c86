/// Substitution of resource outputs into params, when a resource is about to be applied.
public enum Substitution {
    /// `params` (resolved, still in placeholder syntax) with every
    /// `${resources.NAME.outputs.KEY}` replaced by that output and every escape undone:
    /// what a driver receives.
    ///
    /// A string that is exactly one placeholder takes the output's value and type; a
    /// placeholder inside longer text contributes a string, or canonical JSON for other
    /// types. Throws, with the path of each string, when an output is missing.
    /// `outputs` is read only when some string of `params` may hold a placeholder.
    public static func substitute(
        _ params: SpecMap, outputs readOutputs: @autoclosure () -> [String: SpecMap]
    ) throws(SpecErrors) -> SpecMap {
        guard ParamsWalk.mayHavePlaceholders(params) else { return params }
        let outputs = readOutputs()
        var diagnostics = Diagnostics(file: "", document: nil)
        var path = SpecPath("params")
        let changed = ParamsWalk.rewrite(params, path: &path) { string, mark, path in
            substitute(string, outputs: outputs, mark: mark, at: path, &diagnostics)
        }
        guard diagnostics.isEmpty else { throw SpecErrors(diagnostics.errors) }
        return changed ?? params
    }

    private static func substitute(
        _ string: String,
        outputs: [String: SpecMap],
        mark: SourceMark?,
        at path: SpecPath,
        _ diagnostics: inout Diagnostics
    ) -> SpecValue? {
        let parsed: PlaceholderString
        do throws(PlaceholderString.SyntaxError) {
            parsed = try PlaceholderString(parsing: string)
        } catch {
            diagnostics.report(.invalidPlaceholder, at: path, mark: mark, error.message)
            return nil
        }
        var values: [SpecValue] = []
        for case .placeholder(let placeholder) in parsed.segments {
            switch placeholder {
            case .parameter(let name):
                diagnostics.report(
                    .unknownParameter,
                    at: path,
                    mark: mark,
                    "parameter placeholder \(quoted("${params.\(name)}")) was not resolved"
                )
            case .output(let resource, let key):
                guard let value = outputs[resource]?[key] else {
                    diagnostics.report(
                        .missingOutput,
                        at: path,
                        mark: mark,
                        "resource \(quoted(resource)) has no output \(quoted(key))"
                    )
                    continue
                }
                values.append(value)
            }
        }
        guard diagnostics.isEmpty else { return nil }

        if parsed.segments.count == 1, case .placeholder = parsed.segments[0] {
            return values[0].withMark(mark)
        }
        var text = ""
        var next = 0
        for segment in parsed.segments {
            switch segment {
            case .text(let literal):
                text += literal
            case .placeholder:
                text += values[next].interpolationText
                next += 1
            }
        }
        return SpecValue(.string(text), mark: mark)
    }
}
