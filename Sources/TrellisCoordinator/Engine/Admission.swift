import TrellisAPI
import TrellisDomain
import TrellisDrivers
import TrellisLogging
import TrellisRPC
import TrellisStore
import TrellisWire

/// A catalog document from an Apply, ready to store.
struct AdmittedDocument: Sendable {
    let kind: String
    let name: String
    var body: String
    /// The version storing it gives: the existing one when the body is unchanged.
    let version: Int64
    let changed: Bool
}

/// An environment from an Apply, resolved against the catalog and checked.
struct AdmittedEnvironment: Sendable {
    let resolved: ResolvedEnvironment
    let templateVersion: Int64
    /// The environment's own document, as stored.
    let specJSON: String
}

/// Everything an Apply or Plan asked for, after every check passed.
struct Admitted: Sendable {
    let documents: [AdmittedDocument]
    let environments: [AdmittedEnvironment]
}

/// One document of a request: the file it came in and its place in that file's decoded
/// input, whose canonical JSON of it is made once.
struct DocumentSource {
    var file: String
    var input: DecodedInput
    var position: Int

    var document: SpecDocument { input.documents[position] }

    func canonicalJSON(apiGroup: String) -> String { input.canonicalJSON(at: position, apiGroup: apiGroup) }
}

/// Admission: parse the files, resolve every environment against the catalog (the
/// request's own templates and definitions first), let the drivers check their params.
/// Nothing is stored here; a request with any problem changes nothing.
struct Admission: Sendable {
    let decoder: SpecDecoder
    let resolver: Resolver
    let validators: ParamValidators
    let store: any StateStore
    let logger: Logger
    let decoded = DecodedInputs()

    /// The documents of `bytes`, decoded once for inputs that come again.
    func decode(_ bytes: [UInt8], file: String) throws(SpecErrors) -> DecodedInput {
        try decoded.input(bytes, file: file) { (bytes) throws(SpecErrors) in try decoder.decode(bytes, file: file) }
    }

    /// Decodes, checks and resolves what `files` hold: milliseconds of work per thousand
    /// resources, which the services run on the cooperative pool (``onPool(_:)``).
    func admit(_ files: [TrellisV1.SourceFile]) async throws -> Admitted {
        guard !files.isEmpty else { throw RPCError(.invalidArgument, "apply: no files were given") }
        let bytes = files.reduce(0) { $0 + $1.content.count }
        logger.debug("admitting", ["files": String(files.count), "bytes": String(bytes)])
        let start = ContinuousClock.now
        let admitted = try await decodeAndResolve(files)
        let micros = (ContinuousClock.now - start) / .microseconds(1)
        logger.debug(
            "admitted",
            [
                "environments": String(admitted.environments.count), "documents": String(admitted.documents.count),
                "duration_ms": "\(Int(micros) / 1000).\(Int(micros) % 1000 / 100)",
            ])
        return admitted
    }

    private func decodeAndResolve(_ files: [TrellisV1.SourceFile]) async throws -> Admitted {
        var problems: [SpecError] = []
        var sources: [DocumentSource] = []
        for file in files {
            do {
                let decoded = try decode(file.content, file: file.name)
                sources += decoded.documents.indices.map {
                    DocumentSource(file: file.name, input: decoded, position: $0)
                }
            } catch {
                problems += error.errors
            }
        }

        var templates: [String: Template] = [:]
        var definitions: [String: ResourceDefinition] = [:]
        var environments: [(environment: Environment, source: DocumentSource)] = []
        var admittedDocuments: [AdmittedDocument] = []
        // Documents new to the catalog, by their place in `admittedDocuments`.
        var newDocuments: [(slot: Int, source: DocumentSource)] = []
        var seen: Set<String> = []
        for source in sources {
            let document = source.document
            let key = "\(document.object.kind)/\(document.object.name)"
            guard seen.insert(key).inserted else {
                problems.append(
                    SpecError(
                        file: source.file,
                        document: SpecDocumentReference(
                            index: document.index, kind: document.object.kind, name: document.object.name),
                        path: "metadata.name", code: .duplicateResource,
                        message: "\(document.object.kind) \(document.object.name) appears more than once in the request"
                    ))
                continue
            }
            switch document.object {
            case .template(let template):
                templates[template.name] = template
            case .resourceDefinition(let definition):
                definitions[definition.name] = definition
            case .environment(let environment):
                environments.append((environment, source))
            }
            if case .environment = document.object { continue }
            let stored = try await store.document(kind: document.object.kind, name: document.object.name, version: nil)
            guard let stored else {
                // Version 1 whatever its body, which is made below while the environments
                // resolve.
                newDocuments.append((admittedDocuments.count, source))
                admittedDocuments.append(
                    AdmittedDocument(
                        kind: document.object.kind, name: document.object.name, body: "", version: 1, changed: true))
                continue
            }
            let body = source.canonicalJSON(apiGroup: decoder.apiGroup)
            let unchanged = stored.body == body
            admittedDocuments.append(
                AdmittedDocument(
                    kind: document.object.kind, name: document.object.name, body: body,
                    version: unchanged ? stored.version : stored.version + 1, changed: !unchanged))
        }
        if !problems.isEmpty { throw Self.rejection(problems) }

        // Templates as the catalog will number them, with the request's versions.
        for document in admittedDocuments where document.kind == "Template" {
            templates[document.name]?.version = Int(document.version)
        }
        var allDefinitions = try await storedDefinitions()
        for (name, definition) in definitions { allDefinitions[name] = definition }
        let definitionList = allDefinitions.keys.sorted().map { allDefinitions[$0]! }

        // The canonical JSON of the documents new to the catalog (a large template's takes
        // about as long as resolving an environment of it), on another task meanwhile.
        // Started after the definitions are read: this task, coming back from that read,
        // would queue for a thread behind it.
        let apiGroup = decoder.apiGroup
        let newSources = newDocuments.map(\.source)
        async let newBodies = newSources.map { $0.canonicalJSON(apiGroup: apiGroup) }

        var admitted: [AdmittedEnvironment] = []
        for (environment, source) in environments {
            let reference = SpecDocumentReference(
                index: environment.origin.document, kind: "Environment", name: environment.name)
            let template: Template
            if let fromRequest = templates[environment.template.name],
                environment.template.version == nil || environment.template.version == fromRequest.version
            {
                template = fromRequest
            } else if let stored = try await storedTemplate(environment.template) {
                template = stored
            } else {
                let version = environment.template.version.map { " version \($0)" } ?? ""
                problems.append(
                    SpecError(
                        file: environment.origin.file, document: reference, path: "spec.template",
                        code: .unknownTemplate,
                        message:
                            "template \"\(environment.template.name)\"\(version) is not in the catalog or the request"))
                continue
            }
            do {
                let resolved = try resolver.resolve(environment, template: template, definitions: definitionList)
                problems += driverProblems(resolved, reference)
                admitted.append(
                    AdmittedEnvironment(
                        resolved: resolved, templateVersion: Int64(template.version),
                        specJSON: source.canonicalJSON(apiGroup: decoder.apiGroup)))
            } catch {
                problems += error.errors
            }
        }
        if !problems.isEmpty { throw Self.rejection(problems) }
        for (document, body) in zip(newDocuments, await newBodies) { admittedDocuments[document.slot].body = body }
        return Admitted(documents: admittedDocuments, environments: admitted)
    }

    /// Every resource's driver must be available, and must accept the resource's params.
    private func driverProblems(_ resolved: ResolvedEnvironment, _ reference: SpecDocumentReference) -> [SpecError] {
        var problems: [SpecError] = []
        let file = resolved.environment.origin.file
        for resource in resolved.resources {
            guard let driverProblems = validators.problems(driver: resource.driver, params: resource.params) else {
                problems.append(
                    SpecError(
                        file: file, document: reference, path: "resources.\(resource.name)", code: .noDriver,
                        message: "driver \"\(resource.driver)\" is not available here (available: "
                            + validators.names.joined(separator: ", ") + ")"))
                continue
            }
            for problem in driverProblems {
                problems.append(
                    SpecError(
                        file: file, document: reference, path: "resources.\(resource.name).\(problem.path)",
                        code: .invalidValue, message: problem.message))
            }
        }
        return problems
    }

    func storedTemplate(_ reference: TemplateReference) async throws -> Template? {
        let version = reference.version.map(Int64.init)
        guard let document = try await store.document(kind: "Template", name: reference.name, version: version) else {
            return nil
        }
        guard
            case .template(var template)? = try decode(Array(document.body.utf8), file: "catalog").documents.first?
                .object
        else {
            return nil
        }
        template.version = Int(document.version)
        return template
    }

    private func storedDefinitions() async throws -> [String: ResourceDefinition] {
        var definitions: [String: ResourceDefinition] = [:]
        for document in try await store.documents(kind: "ResourceDefinition", allVersions: false) {
            if case .resourceDefinition(let definition)? = try decoder.decode(document.body, file: "catalog").first?
                .object
            {
                definitions[definition.name] = definition
            }
        }
        return definitions
    }

    /// The status an invalid request gets: every problem as a detail.
    static func rejection(_ problems: [SpecError]) -> RPCError {
        let details = problems.map { problem in
            var detail = RPCError.detail(
                reason: problem.code.rawValue, subject: problem.path, description: problem.description)
            detail.metadata = [WireV1.MetadataEntry(key: "file", value: problem.file)]
            if let line = problem.line {
                detail.metadata.append(WireV1.MetadataEntry(key: "line", value: String(line)))
            }
            return detail
        }
        let count = problems.count
        return RPCError(
            .invalidArgument, "spec: the request has \(count) problem\(count == 1 ? "" : "s")", details: details)
    }
}

extension SpecError.Code {
    /// An environment names a template that is nowhere to be found.
    static let unknownTemplate = SpecError.Code(rawValue: "UNKNOWN_TEMPLATE")
    /// A resource's driver is not served here.
    static let noDriver = SpecError.Code(rawValue: "NO_DRIVER")
}
