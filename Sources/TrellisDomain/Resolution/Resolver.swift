/// Resolves an environment against its template and the resource definitions: the first
/// half of admission.
///
/// Resolution merges the template's resources with the environment's dependencies, checks
/// and defaults parameters, picks each resource's definition, substitutes parameters,
/// collects dependency edges, rejects cycles, computes layers, and then runs the
/// admission steps. Every violation found is thrown together.
public struct Resolver: Sendable {
    /// Limits on the environment.
    public var limits: SpecLimits
    /// Steps run, in order, on the resolved environment.
    public var admissionSteps: [any AdmissionStep]
    /// The most violations reported at once; more are summarised in one last error.
    public var maxReportedErrors = 1_000

    /// Types that need no definition: each is realised by the driver of the same name
    /// (`noop` by the engine's built-in noop driver).
    public static let builtInTypes: Set<String> = [
        "noop", "process", "file", "directory", "port", "exec", "postgres-database",
    ]

    public init(limits: SpecLimits = .default, admissionSteps: [any AdmissionStep] = []) {
        self.limits = limits
        self.admissionSteps = admissionSteps
    }

    /// `environment` resolved against `template` and `definitions`.
    ///
    /// - Throws: `SpecErrors` with every violation, each naming the document it is in (the
    ///   environment's, the template's or a definition's) and the path.
    public func resolve(
        _ environment: Environment,
        template: Template,
        definitions: [ResourceDefinition]
    ) throws(SpecErrors) -> ResolvedEnvironment {
        var environmentDiagnostics = Diagnostics(
            origin: environment.origin,
            kind: "Environment",
            name: environment.name
        )
        var templateDiagnostics = Diagnostics(origin: template.origin, kind: "Template", name: template.name)

        checkTemplateReference(environment, template, &environmentDiagnostics)
        let resourceCount = template.resources.count + environment.dependencies.count
        guard resourceCount <= limits.maxResources else {
            environmentDiagnostics.report(
                .tooManyResources,
                at: "spec",
                "\(resourceCount) resources (\(template.resources.count) from template \(quoted(template.name))), "
                    + "more than the limit of \(limits.maxResources)"
            )
            throw SpecErrors(environmentDiagnostics.errors)
        }
        let (values, parameters) = resolveParameters(environment, template, &environmentDiagnostics)

        // Every resource, with where it was declared.
        var specs: [(spec: ResourceSpec, source: ResolvedResource.Source)] = []
        specs.reserveCapacity(resourceCount)
        var positions: [String: Int] = [:]
        positions.reserveCapacity(resourceCount)
        for resource in template.resources {
            positions[resource.name] = specs.count
            specs.append((resource, .template))
        }
        for resource in environment.dependencies {
            guard positions[resource.name] == nil else {
                environmentDiagnostics.report(
                    .duplicateResource,
                    at: SpecPath("spec", "dependencies", resource.name),
                    "resource \(quoted(resource.name)) is already defined by template \(quoted(template.name))"
                )
                continue
            }
            positions[resource.name] = specs.count
            specs.append((resource, .environment))
        }

        let resolver = ParamsResolver(
            declared: Set(template.parameters.map(\.name)),
            values: values,
            resources: positions,
            reportedMissing: Set(template.parameters.filter { $0.isRequired && values[$0.name] == nil }.map(\.name))
        )
        var matcher = DefinitionMatcher(environment: environment, definitions: definitions)
        var definitionDiagnostics: [Diagnostics] = []
        var resolvedDefinitionParams: [String: (params: SpecMap, edges: [Int])] = [:]

        // The template's and the environment's diagnostics, updated in place.
        var documents = [templateDiagnostics, environmentDiagnostics]
        var resources: [ResolvedResource] = []
        resources.reserveCapacity(specs.count)
        var dependencies: [[Int]] = []
        dependencies.reserveCapacity(specs.count)
        for (spec, source) in specs {
            let path =
                source == .template
                ? SpecPath("spec", "resources", spec.name) : SpecPath("spec", "dependencies", spec.name)
            var edges: [Int] = []
            let slot = source == .template ? 0 : 1
            // The definition, and its defaults with parameters substituted (once per definition).
            var driver = spec.type
            var definitionName: String?
            var params = resolver.resolve(spec.params, at: path / "params", &edges, &documents[slot])
            switch matcher.match(type: spec.type) {
            case .definition(let definition):
                driver = definition.driver
                definitionName = definition.name
                if definition.params.isEmpty {
                    break
                }
                if resolvedDefinitionParams[definition.name] == nil {
                    var diagnostics = Diagnostics(
                        origin: definition.origin,
                        kind: "ResourceDefinition",
                        name: definition.name
                    )
                    var definitionEdges: [Int] = []
                    let resolved = resolver.resolve(
                        definition.params,
                        at: SpecPath("spec", "params"),
                        &definitionEdges,
                        &diagnostics
                    )
                    resolvedDefinitionParams[definition.name] = (resolved, definitionEdges)
                    definitionDiagnostics.append(diagnostics)
                }
                let defaults = resolvedDefinitionParams[definition.name]!
                params = Merging.merge(params, over: defaults.params)
                edges += defaults.edges
            case .builtIn:
                break
            case .none:
                documents[slot].report(
                    .noDefinition,
                    at: path / "type",
                    "no resource definition for type \(quoted(spec.type)) matches environment "
                        + "\(quoted(environment.name)), and it is not a built-in type"
                )
            case .ambiguous(let names):
                documents[slot].report(
                    .ambiguousDefinition,
                    at: path / "type",
                    "resource definitions \(names.map { quoted($0) }.joined(separator: ", ")) for type "
                        + "\(quoted(spec.type)) match environment \(quoted(environment.name)) equally well"
                )
            }
            resolver.addDependsOn(spec.dependsOn, at: path / "dependsOn", &edges, &documents[slot])

            let normalized = ResourceGraph.normalized(edges)
            dependencies.append(normalized)
            resources.append(
                ResolvedResource(
                    name: spec.name,
                    type: spec.type,
                    driver: driver,
                    definition: definitionName,
                    params: params,
                    dependencies: normalized.map { specs[$0].spec.name }.sorted(),
                    placement: Merging.merge(spec.placement, over: environment.placement),
                    source: source
                )
            )
        }
        templateDiagnostics = documents[0]
        environmentDiagnostics = documents[1]
        try throwIfAny(environmentDiagnostics, templateDiagnostics, definitionDiagnostics)

        let graph: ResourceGraph
        do throws(ResourceGraph.CycleError) {
            graph = try ResourceGraph(names: resources.map(\.name), dependencies: dependencies)
        } catch {
            let first = specs[positions[error.cycle[0]]!]
            var diagnostics = first.source == .template ? templateDiagnostics : environmentDiagnostics
            let group = first.source == .template ? "resources" : "dependencies"
            diagnostics.report(.dependencyCycle, at: SpecPath("spec", group, error.cycle[0]), error.message)
            throw SpecErrors(diagnostics.errors)
        }

        var resolved = ResolvedEnvironment(
            environment: environment,
            template: TemplateReference(name: template.name, version: template.version),
            parameters: parameters,
            resources: resources,
            graph: graph
        )
        var admissionErrors: [SpecError] = []
        for step in admissionSteps {
            admissionErrors += step.admit(&resolved)
        }
        guard admissionErrors.isEmpty else { throw SpecErrors(capped(admissionErrors)) }
        return resolved
    }

    private func checkTemplateReference(
        _ environment: Environment, _ template: Template, _ diagnostics: inout Diagnostics
    ) {
        if environment.template.name != template.name {
            diagnostics.report(
                .templateMismatch,
                at: SpecPath("spec", "template"),
                "environment uses template \(quoted(environment.template.name)), not \(quoted(template.name))"
            )
        } else if let version = environment.template.version, version != template.version {
            diagnostics.report(
                .templateMismatch,
                at: SpecPath("spec", "template", "version"),
                "environment pins version \(version) of template \(quoted(template.name)), "
                    + "but version \(template.version) was given"
            )
        }
    }

    /// The value of each parameter (for substitution) and the same in template order.
    private func resolveParameters(
        _ environment: Environment,
        _ template: Template,
        _ diagnostics: inout Diagnostics
    ) -> (values: [String: SpecValue], ordered: SpecMap) {
        var declared: [String: TemplateParameter] = [:]
        for parameter in template.parameters {
            declared[parameter.name] = parameter
        }
        for (name, value) in environment.parameters {
            let path = SpecPath("spec", "parameters", name)
            guard let parameter = declared[name] else {
                let known = template.parameters.map { quoted($0.name) }.joined(separator: ", ")
                diagnostics.report(
                    .unknownParameter,
                    at: path,
                    mark: value.mark,
                    "unknown parameter \(quoted(name)); template \(quoted(template.name)) has "
                        + (known.isEmpty ? "no parameters" : known)
                )
                continue
            }
            if !parameter.type.accepts(value) {
                diagnostics.report(
                    .wrongType,
                    at: path,
                    mark: value.mark,
                    "parameter \(quoted(name)) is of type \(parameter.type.rawValue), found \(value.typeName)"
                )
            }
        }

        var values: [String: SpecValue] = [:]
        var ordered = SpecMap()
        for parameter in template.parameters {
            if let value = environment.parameters[parameter.name] {
                values[parameter.name] = value
            } else if let value = parameter.defaultValue {
                values[parameter.name] = value
            } else if parameter.isRequired {
                diagnostics.report(
                    .missingParameter,
                    at: SpecPath("spec", "parameters"),
                    "missing required parameter \(quoted(parameter.name))"
                )
            }
            if let value = values[parameter.name] {
                ordered[parameter.name] = value
            }
        }
        return (values, ordered)
    }

    private func throwIfAny(
        _ environment: Diagnostics,
        _ template: Diagnostics,
        _ definitions: [Diagnostics]
    ) throws(SpecErrors) {
        let errors = template.errors + environment.errors + definitions.flatMap(\.errors)
        guard errors.isEmpty else { throw SpecErrors(capped(errors)) }
    }

    private func capped(_ errors: [SpecError]) -> [SpecError] {
        guard errors.count > maxReportedErrors else { return errors }
        var kept = Array(errors.prefix(maxReportedErrors))
        var summary = errors[maxReportedErrors]
        summary.path = ""
        summary.message = "and \(errors.count - maxReportedErrors) more errors"
        kept.append(summary)
        return kept
    }
}
