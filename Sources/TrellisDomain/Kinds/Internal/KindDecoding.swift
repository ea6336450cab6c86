extension SpecDecoder {
    func decodeTemplate(
        metadata: SpecValue, spec: SpecValue, origin: SpecOrigin, _ reader: inout FieldReader
    )
        -> Template?
    {
        let metadataPath: SpecPath = "metadata"
        let specPath: SpecPath = "spec"
        guard let metadataMap = reader.fields(metadata, at: metadataPath, allowed: ["name", "version", "labels"])
        else { return nil }
        let name = reader.required("name", in: metadataMap, of: metadata, at: metadataPath).flatMap {
            reader.objectName($0, at: metadataPath / "name")
        }
        var version = 1
        if let value = metadataMap["version"], let number = reader.int(value, at: metadataPath / "version") {
            if number < 1 {
                reader.diagnostics.report(
                    .invalidValue,
                    at: metadataPath / "version",
                    mark: value.mark,
                    "version must be at least 1"
                )
            }
            version = number
        }
        let labels = metadataMap["labels"].map { reader.stringMap($0, at: metadataPath / "labels") } ?? [:]

        guard let specMap = reader.fields(spec, at: specPath, allowed: ["parameters", "resources"]) else { return nil }
        var parameters: [TemplateParameter] = []
        if let value = specMap["parameters"], let map = reader.map(value, at: specPath / "parameters") {
            for (parameterName, definition) in map {
                let path = specPath / "parameters" / parameterName
                if let parameter = decodeParameter(parameterName, definition, at: path, &reader) {
                    parameters.append(parameter)
                }
            }
        }
        var resources: [ResourceSpec] = []
        if let value = specMap["resources"] {
            resources = decodeResources(value, at: specPath / "resources", &reader)
        }
        guard let name else { return nil }
        let template = Template(
            name: name,
            version: version,
            labels: labels,
            parameters: parameters,
            resources: resources,
            origin: origin
        )
        if reader.diagnostics.isEmpty {
            TemplateChecks.checkReferences(template, limits: limits, &reader.diagnostics)
        }
        return template
    }

    private func decodeParameter(
        _ name: String, _ value: SpecValue, at path: SpecPath, _ reader: inout FieldReader
    )
        -> TemplateParameter?
    {
        if !Names.isParameterName(name) {
            reader.diagnostics.report(
                .invalidName,
                at: path,
                mark: value.mark,
                "invalid parameter name \(quoted(name)): \(Names.parameterNameRule)"
            )
        }
        guard let map = reader.fields(value, at: path, allowed: ["type", "required", "default", "description"]),
            let typeValue = reader.required("type", in: map, of: value, at: path),
            let typeName = reader.string(typeValue, at: path / "type")
        else { return nil }
        guard let type = ParameterType(rawValue: typeName) else {
            let types = ParameterType.allCases.map(\.rawValue).joined(separator: ", ")
            reader.diagnostics.report(
                .invalidValue,
                at: path / "type",
                mark: typeValue.mark,
                "unknown parameter type \(quoted(typeName)); expected one of \(types)"
            )
            return nil
        }
        let isRequired = map["required"].flatMap { reader.bool($0, at: path / "required") } ?? false
        let defaultValue = map["default"]
        if let defaultValue {
            if !type.accepts(defaultValue) {
                reader.diagnostics.report(
                    .wrongType,
                    at: path / "default",
                    mark: defaultValue.mark,
                    "default is a \(defaultValue.typeName), but the parameter is of type \(type.rawValue)"
                )
            }
            if isRequired {
                reader.diagnostics.report(
                    .invalidValue,
                    at: path / "default",
                    mark: defaultValue.mark,
                    "a required parameter cannot have a default"
                )
            }
        }
        let description = map["description"].flatMap { reader.string($0, at: path / "description") }
        return TemplateParameter(
            name: name,
            type: type,
            isRequired: isRequired,
            defaultValue: defaultValue,
            description: description
        )
    }

    /// A map of resources, as `spec.resources` and `spec.dependencies` hold them.
    func decodeResources(_ value: SpecValue, at path: SpecPath, _ reader: inout FieldReader) -> [ResourceSpec] {
        guard let map = reader.map(value, at: path) else { return [] }
        guard map.count <= limits.maxResources else {
            reader.diagnostics.report(
                .tooManyResources,
                at: path,
                mark: value.mark,
                "\(map.count) resources, more than the limit of \(limits.maxResources)"
            )
            return []
        }
        var resources: [ResourceSpec] = []
        resources.reserveCapacity(map.count)
        for (name, entry) in map {
            if let resource = decodeResource(name, entry, at: path / name, &reader) {
                resources.append(resource)
            }
        }
        return resources
    }

    private func decodeResource(
        _ name: String, _ value: SpecValue, at path: @autoclosure () -> SpecPath, _ reader: inout FieldReader
    )
        -> ResourceSpec?
    {
        if !Names.isResourceName(name) {
            reader.diagnostics.report(
                .invalidName,
                at: path(),
                mark: value.mark,
                "invalid resource name \(quoted(name)): \(Names.resourceNameRule)"
            )
        }
        guard let map = reader.fields(value, at: path(), allowed: ["type", "params", "dependsOn", "placement"]),
            let type = reader.required("type", in: map, of: value, at: path()).flatMap({
                reader.word($0, at: path() / "type")
            })
        else { return nil }
        let params = map["params"].flatMap { reader.map($0, at: path() / "params") } ?? [:]
        TemplateChecks.checkSyntax(params, at: path() / "params", &reader.diagnostics)
        let dependsOn = map["dependsOn"].map { reader.stringList($0, at: path() / "dependsOn") } ?? []
        let placement = map["placement"].flatMap { reader.map($0, at: path() / "placement") } ?? [:]
        return ResourceSpec(name: name, type: type, params: params, dependsOn: dependsOn, placement: placement)
    }

    func decodeDefinition(
        metadata: SpecValue, spec: SpecValue, origin: SpecOrigin, _ reader: inout FieldReader
    )
        -> ResourceDefinition?
    {
        let metadataPath: SpecPath = "metadata"
        let specPath: SpecPath = "spec"
        guard let metadataMap = reader.fields(metadata, at: metadataPath, allowed: ["name", "labels"]) else {
            return nil
        }
        let name = reader.required("name", in: metadataMap, of: metadata, at: metadataPath).flatMap {
            reader.objectName($0, at: metadataPath / "name")
        }
        let labels = metadataMap["labels"].map { reader.stringMap($0, at: metadataPath / "labels") } ?? [:]
        guard let specMap = reader.fields(spec, at: specPath, allowed: ["type", "driver", "params", "match"]) else {
            return nil
        }
        let type = reader.required("type", in: specMap, of: spec, at: specPath).flatMap {
            reader.word($0, at: specPath / "type")
        }
        let driver = reader.required("driver", in: specMap, of: spec, at: specPath).flatMap {
            reader.word($0, at: specPath / "driver")
        }
        let params = specMap["params"].flatMap { reader.map($0, at: specPath / "params") } ?? [:]
        TemplateChecks.checkSyntax(params, at: specPath / "params", &reader.diagnostics)
        var match = DefinitionMatch()
        if let value = specMap["match"],
            let map = reader.fields(
                value,
                at: specPath / "match",
                allowed: ["environmentType", "team", "environmentLabels"]
            )
        {
            match.environmentType = map["environmentType"].flatMap {
                reader.string($0, at: specPath / "match" / "environmentType")
            }
            match.team = map["team"].flatMap { reader.string($0, at: specPath / "match" / "team") }
            match.environmentLabels =
                map["environmentLabels"].map { reader.stringMap($0, at: specPath / "match" / "environmentLabels") }
                ?? [:]
        }
        guard let name, let type, let driver else { return nil }
        return ResourceDefinition(
            name: name,
            type: type,
            driver: driver,
            params: params,
            match: match,
            labels: labels,
            origin: origin
        )
    }

    func decodeEnvironment(
        metadata: SpecValue, spec: SpecValue, origin: SpecOrigin, _ reader: inout FieldReader
    )
        -> Environment?
    {
        let metadataPath: SpecPath = "metadata"
        let specPath: SpecPath = "spec"
        guard let metadataMap = reader.fields(metadata, at: metadataPath, allowed: ["name", "team", "labels"]) else {
            return nil
        }
        let name = reader.required("name", in: metadataMap, of: metadata, at: metadataPath).flatMap {
            reader.objectName($0, at: metadataPath / "name")
        }
        let team = metadataMap["team"].flatMap { reader.word($0, at: metadataPath / "team") }
        let labels = metadataMap["labels"].map { reader.stringMap($0, at: metadataPath / "labels") } ?? [:]

        let allowed = ["template", "parameters", "dependencies", "ttl", "reconcile", "placement"]
        guard let specMap = reader.fields(spec, at: specPath, allowed: allowed) else { return nil }
        let template = reader.required("template", in: specMap, of: spec, at: specPath).flatMap {
            decodeTemplateReference($0, at: specPath / "template", &reader)
        }
        let parameters = specMap["parameters"].flatMap { reader.map($0, at: specPath / "parameters") } ?? [:]
        let dependencies =
            specMap["dependencies"].map { decodeResources($0, at: specPath / "dependencies", &reader) } ?? []
        var ttl: Duration?
        if let value = specMap["ttl"], let text = reader.string(value, at: specPath / "ttl") {
            ttl = SpecDuration.parse(text)
            if ttl == nil {
                reader.diagnostics.report(
                    .invalidDuration,
                    at: specPath / "ttl",
                    mark: value.mark,
                    "invalid duration \(quoted(text)); write it like 400ms, 30s, 72h or 1h30m"
                )
            }
        }
        var reconcile = ReconcileMode.auto
        if let value = specMap["reconcile"], let text = reader.string(value, at: specPath / "reconcile") {
            if let mode = ReconcileMode(rawValue: text) {
                reconcile = mode
            } else {
                reader.diagnostics.report(
                    .invalidValue,
                    at: specPath / "reconcile",
                    mark: value.mark,
                    "unknown reconcile mode \(quoted(text)); expected \"auto\" or \"report\""
                )
            }
        }
        let placement = specMap["placement"].flatMap { reader.map($0, at: specPath / "placement") } ?? [:]
        guard let name, let template else { return nil }
        return Environment(
            name: name,
            team: team,
            labels: labels,
            template: template,
            parameters: parameters,
            dependencies: dependencies,
            ttl: ttl,
            reconcile: reconcile,
            placement: placement,
            origin: origin
        )
    }

    private func decodeTemplateReference(
        _ value: SpecValue, at path: SpecPath, _ reader: inout FieldReader
    )
        -> TemplateReference?
    {
        if let name = value.stringValue {
            return reader.objectName(value, at: path).map { _ in TemplateReference(name: name) }
        }
        guard value.mapValue != nil else {
            reader.wrongType(value, at: path, expected: "a template name or a map with name and version")
            return nil
        }
        guard let map = reader.fields(value, at: path, allowed: ["name", "version"]),
            let name = reader.required("name", in: map, of: value, at: path).flatMap({
                reader.objectName($0, at: path / "name")
            })
        else { return nil }
        let version = map["version"].flatMap { reader.int($0, at: path / "version") }
        return TemplateReference(name: name, version: version)
    }
}
