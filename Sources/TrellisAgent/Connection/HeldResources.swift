import TrellisAPI
import TrellisDrivers

/// The resources an agent holds: those listed in the latest welcome, plus those it
/// applied since, minus those it deleted. It observes and probes exactly these.
struct HeldResources {
    struct Entry {
        var decoded: Result<DecodedResource, DriverError>
        /// The resource's driver, even when its JSON did not decode.
        var driver: String
        /// Bumped whenever the entry is replaced, so that an observation started before
        /// a change is not recorded against the new spec.
        var generation: Int
        /// The latest observation of this generation.
        var observed: ResourceCondition.Observed?
    }

    private(set) var entries: [ResourceKey: Entry] = [:]
    private var nextGeneration = 0

    /// Holds exactly `resources`, forgetting the others.
    mutating func replaceAll(with resources: [TrellisV1.AgentResource]) {
        var kept: [ResourceKey: Entry] = [:]
        for resource in resources {
            let key = ResourceKey(environment: resource.environment, resource: resource.name)
            kept[key] = makeEntry(resource)
        }
        entries = kept
    }

    /// Holds `resource` as applied with `outputs`, replacing what was held under its name.
    mutating func hold(_ resource: TrellisV1.AgentResource, outputsJSON: String, secretOutputKeys: [String]) {
        var applied = resource
        applied.outputsJson = outputsJSON
        applied.secretOutputKeys = secretOutputKeys
        entries[ResourceKey(environment: resource.environment, resource: resource.name)] = makeEntry(applied)
    }

    /// Forgets `key`.
    mutating func release(_ key: ResourceKey) {
        entries.removeValue(forKey: key)
    }

    /// Records an observation of generation `generation` of `key`; false when the entry
    /// was replaced or released meanwhile.
    mutating func record(_ observed: ResourceCondition.Observed, for key: ResourceKey, generation: Int) -> Bool {
        guard entries[key]?.generation == generation else { return false }
        entries[key]?.observed = observed
        return true
    }

    private mutating func makeEntry(_ resource: TrellisV1.AgentResource) -> Entry {
        nextGeneration += 1
        return Entry(decoded: DecodedResource.decode(resource), driver: resource.driver, generation: nextGeneration)
    }
}
