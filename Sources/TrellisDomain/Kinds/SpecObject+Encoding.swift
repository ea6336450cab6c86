extension SpecObject {
    /// The object as a document tree (`apiVersion`, `kind`, `metadata`, `spec`), which
    /// `SpecDecoder` reads back to an equal object. Defaults are written out.
    public func document(apiGroup: String = SpecDecoder.defaultAPIGroup) -> SpecValue {
        var metadata = SpecMap()
        var spec = SpecMap()
        switch self {
        case .template(let template):
            metadata["name"] = .string(template.name)
            metadata["version"] = .int(template.version)
            if !template.labels.isEmpty { metadata["labels"] = Self.labels(template.labels) }
            var parameters = SpecMap()
            for parameter in template.parameters {
                var entry: SpecMap = ["type": .string(parameter.type.rawValue)]
                if parameter.isRequired { entry["required"] = true }
                if let value = parameter.defaultValue { entry["default"] = value }
                if let description = parameter.description { entry["description"] = .string(description) }
                parameters[parameter.name] = .map(entry)
            }
            spec["parameters"] = .map(parameters)
            spec["resources"] = Self.resources(template.resources)
        case .resourceDefinition(let definition):
            metadata["name"] = .string(definition.name)
            if !definition.labels.isEmpty { metadata["labels"] = Self.labels(definition.labels) }
            spec["type"] = .string(definition.type)
            spec["driver"] = .string(definition.driver)
            spec["params"] = .map(definition.params)
            var match = SpecMap()
            if let type = definition.match.environmentType { match["environmentType"] = .string(type) }
            if let team = definition.match.team { match["team"] = .string(team) }
            if !definition.match.environmentLabels.isEmpty {
                match["environmentLabels"] = Self.labels(definition.match.environmentLabels)
            }
            spec["match"] = .map(match)
        case .environment(let environment):
            metadata["name"] = .string(environment.name)
            if let team = environment.team { metadata["team"] = .string(team) }
            if !environment.labels.isEmpty { metadata["labels"] = Self.labels(environment.labels) }
            var template: SpecMap = ["name": .string(environment.template.name)]
            if let version = environment.template.version { template["version"] = .int(version) }
            spec["template"] = .map(template)
            spec["parameters"] = .map(environment.parameters)
            spec["dependencies"] = Self.resources(environment.dependencies)
            if let ttl = environment.ttl { spec["ttl"] = .string(SpecDuration.format(ttl)) }
            spec["reconcile"] = .string(environment.reconcile.rawValue)
            spec["placement"] = .map(environment.placement)
        }
        return [
            "apiVersion": .string("\(apiGroup)/\(SpecDecoder.version)"),
            "kind": .string(kind),
            "metadata": .map(metadata),
            "spec": .map(spec),
        ]
    }

    /// The object's document as canonical JSON: its stored form.
    public func canonicalJSON(apiGroup: String = SpecDecoder.defaultAPIGroup) -> String {
        document(apiGroup: apiGroup).canonicalJSON
    }

    private static func labels(_ labels: [String: String]) -> SpecValue {
        .map(SpecMap(labels.sorted { $0.key < $1.key }.map { ($0.key, SpecValue.string($0.value)) }))
    }

    /// Resources keyed by name.
    private static func resources(_ resources: [ResourceSpec]) -> SpecValue {
        var entries: [SpecValue] = []
        entries.reserveCapacity(resources.count)
        for resource in resources {
            var keys = ["type"]
            var values = [SpecValue.string(resource.type)]
            if !resource.params.isEmpty {
                keys.append("params")
                values.append(.map(resource.params))
            }
            if !resource.dependsOn.isEmpty {
                keys.append("dependsOn")
                values.append(.list(resource.dependsOn.map { .string($0) }))
            }
            if !resource.placement.isEmpty {
                keys.append("placement")
                values.append(.map(resource.placement))
            }
            entries.append(.map(SpecMap(keys: keys, values: values)))
        }
        return .map(SpecMap(keys: resources.map(\.name), values: entries))
    }
}
