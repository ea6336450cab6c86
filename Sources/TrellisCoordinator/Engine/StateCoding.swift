import TrellisAPI
import TrellisDomain
import TrellisStore

/// Conversions between the domain's values, the store's records (JSON text) and the
/// API's messages.
enum StateCoding {
    private static let decoder = SpecDecoder(limits: .stored)

    /// Parses JSON the engine itself stored.
    static func value(fromJSON text: String, what: String) throws -> SpecValue {
        let values = try decoder.values(Array(text.utf8), file: "state:\(what)")
        guard let value = values.first else { return .null }
        return value
    }

    static func map(fromJSON text: String, what: String) throws -> SpecMap {
        try value(fromJSON: text, what: what).mapValue ?? [:]
    }

    static func strings(fromJSON text: String, what: String) throws -> [String] {
        try value(fromJSON: text, what: what).listValue?.compactMap(\.stringValue) ?? []
    }

    static func json(_ strings: [String]) -> String {
        SpecValue.list(strings.map { .string($0) }).canonicalJSON
    }

    static func json(_ labels: [String: String]) -> String {
        SpecValue.map(SpecMap(labels.keys.sorted().map { ($0, SpecValue.string(labels[$0]!)) })).canonicalJSON
    }

    static func labels(fromJSON text: String) -> [String: String] {
        guard let map = try? map(fromJSON: text, what: "labels") else { return [:] }
        var labels: [String: String] = [:]
        for (key, value) in map { labels[key] = value.stringValue ?? value.canonicalJSON }
        return labels
    }

    /// The applied form of a stored resource, for planning.
    static func applied(_ record: ResourceRecord) throws -> AppliedResource {
        AppliedResource(
            name: record.name,
            type: record.type,
            driver: record.driver,
            params: try map(fromJSON: record.params, what: "\(record.environment)/\(record.name).params"),
            dependencies: try strings(fromJSON: record.dependencies, what: "\(record.environment)/\(record.name).deps"),
            outputs: try map(fromJSON: record.outputs, what: "\(record.environment)/\(record.name).outputs"),
            secretOutputKeys: Set(record.secretOutputKeys))
    }

    /// Outputs as the API shows them: text values, secrets replaced.
    static func shown(_ outputs: SpecMap, secretKeys: Set<String>) -> [String: String] {
        var shown: [String: String] = [:]
        for (key, value) in Redaction.redact(outputs, secretKeys: secretKeys) { shown[key] = text(value) }
        return shown
    }

    /// A value as one string: strings as they are, everything else as JSON.
    static func text(_ value: SpecValue) -> String {
        value.stringValue ?? value.canonicalJSON
    }

    /// The API's view of a stored environment and its resources.
    static func status(_ environment: EnvironmentRecord, _ resources: [ResourceRecord]) -> TrellisV1.EnvironmentStatus {
        let names = resources.map(\.name)
        let dependencies = resources.map { (try? strings(fromJSON: $0.dependencies, what: "deps")) ?? [] }
        let layers = (try? ResourceGraph(names: names, dependencies: dependencies))?.layerOfNode
        let spec = try? value(fromJSON: environment.spec, what: "\(environment.name).spec")
        let reconcile = spec?.mapValue?["spec"]?.mapValue?["reconcile"]?.stringValue ?? ReconcileMode.auto.rawValue
        return TrellisV1.EnvironmentStatus(
            name: environment.name,
            team: environment.team,
            labels: labels(fromJSON: environment.labels),
            template: environment.templateName,
            templateVersion: UInt32(clamping: environment.templateVersion),
            phase: environment.phase,
            resources: resources.enumerated().map { index, record in
                let outputs = (try? map(fromJSON: record.outputs, what: "outputs")) ?? [:]
                return TrellisV1.ResourceStatus(
                    name: record.name, type: record.type, driver: record.driver, phase: record.phase,
                    outputs: shown(outputs, secretKeys: Set(record.secretOutputKeys)),
                    startedAtUnixMs: record.startedAt ?? 0, finishedAtUnixMs: record.finishedAt ?? 0,
                    attempts: UInt32(clamping: record.attempts), agent: record.agent ?? "",
                    error: record.lastError ?? "", dependsOn: dependencies[index],
                    layer: UInt32(clamping: layers?[index] ?? 0), health: record.health,
                    healthMessage: record.healthMessage, drift: record.drift)
            },
            createdAtUnixMs: environment.createdAt,
            expiresAtUnixMs: environment.expiresAt ?? 0,
            reconcile: reconcile,
            revision: UInt64(clamping: environment.revision),
            health: EnvironmentEngine.rollUp(resources))
    }
}

extension SpecLimits {
    /// Limits for reading back what the engine stored: generous, since the engine wrote
    /// it after admission already held the user's input to the real limits.
    static var stored: SpecLimits {
        var limits = SpecLimits.default
        limits.maxInputBytes = 1 << 30
        limits.maxAliasExpansion = Int.max
        limits.maxResources = Int.max
        return limits
    }
}
