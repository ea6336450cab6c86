/// A resource as it was applied: the stored state that a plan compares against.
public struct AppliedResource: Sendable, Hashable {
    /// The resource's name.
    public var name: String
    /// Its type.
    public var type: String
    /// The driver that applied it.
    public var driver: String
    /// Its params as resolved, before outputs were substituted: what `ResolvedResource`
    /// holds, so that an unchanged spec compares equal.
    public var params: SpecMap
    /// The resources it depended on, by name.
    public var dependencies: [String]
    /// What the driver returned.
    public var outputs: SpecMap
    /// The keys of `outputs` that are secret: never printed, logged or streamed.
    public var secretOutputKeys: Set<String>

    public init(
        name: String,
        type: String,
        driver: String,
        params: SpecMap = [:],
        dependencies: [String] = [],
        outputs: SpecMap = [:],
        secretOutputKeys: Set<String> = []
    ) {
        self.name = name
        self.type = type
        self.driver = driver
        self.params = params
        self.dependencies = dependencies
        self.outputs = outputs
        self.secretOutputKeys = secretOutputKeys
    }

    /// The stored form of `resource` once applied with `outputs`.
    public init(_ resource: ResolvedResource, outputs: SpecMap = [:], secretOutputKeys: Set<String> = []) {
        self.init(
            name: resource.name,
            type: resource.type,
            driver: resource.driver,
            params: resource.params,
            dependencies: resource.dependencies,
            outputs: outputs,
            secretOutputKeys: secretOutputKeys
        )
    }

    /// `outputs` fit to show: each secret value replaced by `Redaction.placeholder`.
    public var redactedOutputs: SpecMap {
        Redaction.redact(outputs, secretKeys: secretOutputKeys)
    }
}

/// Hiding secret outputs from anything shown: progress events, plans, logs, `get`.
public enum Redaction {
    /// What a secret value is shown as.
    public static let placeholder: SpecValue = "(secret)"

    /// `outputs` with the value of each key in `secretKeys` replaced by `placeholder`.
    public static func redact(_ outputs: SpecMap, secretKeys: Set<String>) -> SpecMap {
        guard !secretKeys.isEmpty else { return outputs }
        var result = outputs
        for key in outputs.keys where secretKeys.contains(key) {
            result[key] = placeholder
        }
        return result
    }
}
