/// Reads typed fields out of a document's tree, reporting every mismatch to `diagnostics`
/// and carrying on, so that one pass finds all of a document's errors. Paths are built only
/// for the errors they name.
struct FieldReader {
    var diagnostics: Diagnostics

    /// `value` as a map whose keys are all in `allowed`; unknown keys are reported.
    mutating func fields(_ value: SpecValue, at path: @autoclosure () -> SpecPath, allowed: [String]) -> SpecMap? {
        guard let map = map(value, at: path()) else { return nil }
        for (key, field) in map where !allowed.contains(key) {
            let expected = allowed.map { quoted($0) }.joined(separator: ", ")
            diagnostics.report(
                .unknownField,
                at: path() / key,
                mark: field.mark,
                "unknown field \(quoted(key)); expected one of \(expected)"
            )
        }
        return map
    }

    /// The field `key` of `map`, reporting its absence.
    mutating func required(
        _ key: String, in map: SpecMap, of parent: SpecValue, at path: @autoclosure () -> SpecPath
    ) -> SpecValue? {
        guard let value = map[key], !value.isNull else {
            diagnostics.report(
                .missingField, at: path() / key, mark: parent.mark, "missing required field \(quoted(key))")
            return nil
        }
        return value
    }

    mutating func wrongType(_ value: SpecValue, at path: @autoclosure () -> SpecPath, expected: String) {
        diagnostics.report(.wrongType, at: path(), mark: value.mark, "expected \(expected), found \(value.typeName)")
    }

    mutating func map(_ value: SpecValue, at path: @autoclosure () -> SpecPath) -> SpecMap? {
        guard let map = value.mapValue else {
            wrongType(value, at: path(), expected: "a map")
            return nil
        }
        return map
    }

    mutating func string(_ value: SpecValue, at path: @autoclosure () -> SpecPath) -> String? {
        guard let string = value.stringValue else {
            wrongType(value, at: path(), expected: "a string")
            return nil
        }
        return string
    }

    /// A non-empty string.
    mutating func word(_ value: SpecValue, at path: @autoclosure () -> SpecPath) -> String? {
        guard let string = string(value, at: path()) else { return nil }
        guard !string.isEmpty else {
            diagnostics.report(.invalidValue, at: path(), mark: value.mark, "must not be empty")
            return nil
        }
        return string
    }

    mutating func int(_ value: SpecValue, at path: @autoclosure () -> SpecPath) -> Int? {
        guard let int = value.intValue else {
            wrongType(value, at: path(), expected: "an integer")
            return nil
        }
        return int
    }

    mutating func bool(_ value: SpecValue, at path: @autoclosure () -> SpecPath) -> Bool? {
        guard let bool = value.boolValue else {
            wrongType(value, at: path(), expected: "true or false")
            return nil
        }
        return bool
    }

    /// A map of strings to strings, like labels.
    mutating func stringMap(_ value: SpecValue, at path: @autoclosure () -> SpecPath) -> [String: String] {
        guard let map = map(value, at: path()) else { return [:] }
        var result: [String: String] = [:]
        for (key, entry) in map {
            if let string = string(entry, at: path() / key) { result[key] = string }
        }
        return result
    }

    /// A list of strings.
    mutating func stringList(_ value: SpecValue, at path: @autoclosure () -> SpecPath) -> [String] {
        guard let list = value.listValue else {
            wrongType(value, at: path(), expected: "a list")
            return []
        }
        var result: [String] = []
        for (index, entry) in list.enumerated() {
            if let string = string(entry, at: path() / index) { result.append(string) }
        }
        return result
    }

    /// A name following `Names.isObjectName`.
    mutating func objectName(_ value: SpecValue, at path: @autoclosure () -> SpecPath) -> String? {
        guard let name = string(value, at: path()) else { return nil }
        guard Names.isObjectName(name) else {
            diagnostics.report(
                .invalidName, at: path(), mark: value.mark, "invalid name \(quoted(name)): \(Names.objectNameRule)")
            return nil
        }
        return name
    }
}
