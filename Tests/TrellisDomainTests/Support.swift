import Testing
import TrellisDomain

/// The errors that decoding `text` throws; records an issue when it succeeds.
func decodingErrors(
    _ text: String,
    file: String = "app.yaml",
    decoder: SpecDecoder = SpecDecoder(),
    sourceLocation: SourceLocation = #_sourceLocation
) -> [SpecError] {
    do throws(SpecErrors) {
        let documents = try decoder.decode(text, file: file)
        Issue.record("expected errors, decoded \(documents.count) documents", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.errors
    }
}

/// The one object in `text`.
func decodeOne(_ text: String, decoder: SpecDecoder = SpecDecoder()) throws -> SpecObject {
    let documents = try decoder.decode(text, file: "app.yaml")
    try #require(documents.count == 1)
    return documents[0].object
}

func decodeTemplate(_ text: String) throws -> Template {
    guard case .template(let template) = try decodeOne(text) else {
        throw SpecErrors([SpecError(file: "", code: .unknownKind, message: "not a template")])
    }
    return template
}

func decodeEnvironment(_ text: String) throws -> Environment {
    guard case .environment(let environment) = try decodeOne(text) else {
        throw SpecErrors([SpecError(file: "", code: .unknownKind, message: "not an environment")])
    }
    return environment
}

/// The errors that resolving throws; records an issue when it succeeds.
func resolutionErrors(
    _ environment: Environment,
    _ template: Template,
    _ definitions: [ResourceDefinition] = [],
    sourceLocation: SourceLocation = #_sourceLocation
) -> [SpecError] {
    do throws(SpecErrors) {
        _ = try Resolver().resolve(environment, template: template, definitions: definitions)
        Issue.record("expected resolution errors", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.errors
    }
}

/// A template of noop resources, each depending on those listed.
func noopTemplate(_ resources: [(String, [String])], name: String = "t") -> Template {
    Template(
        name: name,
        resources: resources.map { ResourceSpec(name: $0.0, type: "noop", dependsOn: $0.1) }
    )
}

func noopEnvironment(for template: Template, parameters: SpecMap = [:]) -> Environment {
    Environment(name: "env", template: TemplateReference(name: template.name), parameters: parameters)
}

/// The errors that reading `text` as generic trees throws; records an issue when it succeeds.
func valueErrors(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [SpecError] {
    do throws(SpecErrors) {
        _ = try SpecDecoder().values(Array(text.utf8), file: "app.yaml")
        Issue.record("expected errors", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.errors
    }
}
