/// The stored state of one resource of an environment.
///
/// JSON fields are text produced and read by the engine; the store keeps them as they are.
/// Secret outputs are stored with the others; ``secretOutputKeys`` names them so that no
/// reader prints, logs or streams their values.
///
/// ``health``, ``healthMessage`` and ``drift`` come from the agent's reports and are
/// usually written alone (``StoreMutation/setResourceHealth(environment:name:health:message:)``,
/// ``StoreMutation/setResourceDrift(environment:name:drift:)``); an upsert replaces them
/// with the record's values like every other field.
public struct ResourceRecord: Sendable, Hashable {
    /// The environment the resource belongs to; it must exist.
    public var environment: String
    /// The resource's name, unique within its environment.
    public var name: String
    /// The resource type, e.g. `postgres-database`.
    public var type: String
    /// The driver that realises it, e.g. `noop`.
    public var driver: String
    /// The resolved parameters as a JSON object.
    public var params: String
    /// The names of the resources it depends on, as a JSON array.
    public var dependencies: String
    /// The resource's phase, named by the engine (e.g. `Pending`, `Ready`, `Failed`).
    public var phase: String
    /// The driver's outputs as a JSON object.
    public var outputs: String
    /// The keys of ``outputs`` whose values are secret.
    public var secretOutputKeys: [String]
    /// How many times the current operation was attempted.
    public var attempts: Int64
    /// When the current operation started, in milliseconds since the Unix epoch.
    public var startedAt: Int64?
    /// When the current operation finished, in milliseconds since the Unix epoch.
    public var finishedAt: Int64?
    /// The last failure's message, if the last attempt failed.
    public var lastError: String?
    /// The agent the resource is placed on, once placed.
    public var agent: String?
    /// The health its agent last reported, e.g. `Healthy` or `Unhealthy`; empty before the
    /// first report.
    public var health: String
    /// What the last health report said, e.g. why a check failed; may be empty.
    public var healthMessage: String
    /// Why the agent found the resource drifted from its applied spec, while it is; empty
    /// otherwise.
    public var drift: String

    public init(
        environment: String, name: String, type: String, driver: String, params: String = "{}",
        dependencies: String = "[]", phase: String, outputs: String = "{}", secretOutputKeys: [String] = [],
        attempts: Int64 = 0, startedAt: Int64? = nil, finishedAt: Int64? = nil, lastError: String? = nil,
        agent: String? = nil, health: String = "", healthMessage: String = "", drift: String = ""
    ) {
        self.environment = environment
        self.name = name
        self.type = type
        self.driver = driver
        self.params = params
        self.dependencies = dependencies
        self.phase = phase
        self.outputs = outputs
        self.secretOutputKeys = secretOutputKeys
        self.attempts = attempts
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.lastError = lastError
        self.agent = agent
        self.health = health
        self.healthMessage = healthMessage
        self.drift = drift
    }
}
