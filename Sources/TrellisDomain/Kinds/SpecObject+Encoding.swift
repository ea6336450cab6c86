extension SpecObject {
    /// The object as a document tree (`apiVersion`, `kind`, `metadata`, `spec`), which
    /// `SpecDecoder` reads back to an equal object. Defaults are written out.
    public func document(apiGroup: String = SpecDecoder.defaultAPIGroup) -> SpecValue {
        let (metadata, spec) = parts()
        var specMap = SpecMap()
        for (key, part) in spec {
            switch part {
            case .value(let value): specMap[key] = value
            case .resources(let resources): specMap[key] = Self.resources(resources)
            }
        }
        return [
            "apiVersion": .string("\(apiGroup)/\(SpecDecoder.version)"),
            "kind": .string(kind),
            "metadata": .map(metadata),
            "spec": .map(specMap),
        ]
    }

    /// The object's document as canonical JSON: its stored form. The same text as
    /// `document(apiGroup:).canonicalJSON`, with the resources written straight out
    /// rather than built as a tree first (a template's resources are most of its body).
    public func canonicalJSON(apiGroup: String = SpecDecoder.defaultAPIGroup) -> String {
        let (metadata, spec) = parts()
        var bytes: [UInt8] = []
        bytes.append(contentsOf: #"{"apiVersion":"#.utf8)
        SpecValue.string("\(apiGroup)/\(SpecDecoder.version)").appendCanonicalJSON(to: &bytes)
        bytes.append(contentsOf: #","kind":"#.utf8)
        SpecValue.string(kind).appendCanonicalJSON(to: &bytes)
        bytes.append(contentsOf: #","metadata":"#.utf8)
        SpecValue.map(metadata).appendCanonicalJSON(to: &bytes)
        bytes.append(contentsOf: #","spec":{"#.utf8)
        for (index, (key, part)) in spec.enumerated() {
            if index > 0 { bytes.append(0x2C) }
            bytes.append(0x22)
            appendJSONString(key, to: &bytes)
            bytes.append(contentsOf: [0x22, 0x3A])
            switch part {
            case .value(let value): value.appendCanonicalJSON(to: &bytes)
            case .resources(let resources): Self.appendResourcesJSON(resources, to: &bytes)
            }
        }
        bytes.append(contentsOf: [0x7D, 0x7D])
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A field of `spec`: a value, or resources keyed by name.
    private enum SpecPart {
        case value(SpecValue)
        case resources([ResourceSpec])
    }

    /// The document's metadata, and its spec's fields in order.
    private func parts() -> (metadata: SpecMap, spec: [(String, SpecPart)]) {
        var metadata = SpecMap()
        var spec: [(String, SpecPart)] = []
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
            spec.append(("parameters", .value(.map(parameters))))
            spec.append(("resources", .resources(template.resources)))
        case .resourceDefinition(let definition):
            metadata["name"] = .string(definition.name)
            if !definition.labels.isEmpty { metadata["labels"] = Self.labels(definition.labels) }
            spec.append(("type", .value(.string(definition.type))))
            spec.append(("driver", .value(.string(definition.driver))))
            spec.append(("params", .value(.map(definition.params))))
            var match = SpecMap()
            if let type = definition.match.environmentType { match["environmentType"] = .string(type) }
            if let team = definition.match.team { match["team"] = .string(team) }
            if !definition.match.environmentLabels.isEmpty {
                match["environmentLabels"] = Self.labels(definition.match.environmentLabels)
            }
            spec.append(("match", .value(.map(match))))
        case .environment(let environment):
            metadata["name"] = .string(environment.name)
            if let team = environment.team { metadata["team"] = .string(team) }
            if !environment.labels.isEmpty { metadata["labels"] = Self.labels(environment.labels) }
            var template: SpecMap = ["name": .string(environment.template.name)]
            if let version = environment.template.version { template["version"] = .int(version) }
            spec.append(("template", .value(.map(template))))
            spec.append(("parameters", .value(.map(environment.parameters))))
            spec.append(("dependencies", .resources(environment.dependencies)))
            if let ttl = environment.ttl { spec.append(("ttl", .value(.string(SpecDuration.format(ttl))))) }
            spec.append(("reconcile", .value(.string(environment.reconcile.rawValue))))
            spec.append(("placement", .value(.map(environment.placement))))
        }
        return (metadata, spec)
    }

    /// What ``resources(_:)`` gives, as canonical JSON. A name given twice keeps its last
    /// resource at its first place, as a map does: such a list goes through the tree.
    private static func appendResourcesJSON(_ resources: [ResourceSpec], to bytes: inout [UInt8]) {
        guard Set(resources.map(\.name)).count == resources.count else {
            Self.resources(resources).appendCanonicalJSON(to: &bytes)
            return
        }
        bytes.append(0x7B)
        for (index, resource) in resources.enumerated() {
            if index > 0 { bytes.append(0x2C) }
            bytes.append(0x22)
            appendJSONString(resource.name, to: &bytes)
            bytes.append(contentsOf: #"":{"type":""#.utf8)
            appendJSONString(resource.type, to: &bytes)
            bytes.append(0x22)
            if !resource.params.isEmpty {
                bytes.append(contentsOf: #","params":"#.utf8)
                SpecValue.map(resource.params).appendCanonicalJSON(to: &bytes)
            }
            if !resource.dependsOn.isEmpty {
                bytes.append(contentsOf: #","dependsOn":["#.utf8)
                for (position, name) in resource.dependsOn.enumerated() {
                    if position > 0 { bytes.append(0x2C) }
                    bytes.append(0x22)
                    appendJSONString(name, to: &bytes)
                    bytes.append(0x22)
                }
                bytes.append(0x5D)
            }
            if !resource.placement.isEmpty {
                bytes.append(contentsOf: #","placement":"#.utf8)
                SpecValue.map(resource.placement).appendCanonicalJSON(to: &bytes)
            }
            bytes.append(0x7D)
        }
        bytes.append(0x7D)
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
