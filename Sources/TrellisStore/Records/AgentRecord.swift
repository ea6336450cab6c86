/// A host that joined the coordinator and runs resources for it.
///
/// An agent is known by its name and proves who it is with the key its client certificate
/// was issued for: ``publicKeySHA256`` is that key's fingerprint. Registering a name again
/// with the same key updates the agent (a restart, a new version); a different key under a
/// taken name is refused, so that one host cannot take over another's resources.
public struct AgentRecord: Sendable, Hashable {
    /// The agent's name, unique in the store.
    public var name: String
    /// The SHA-256 of the agent's public key, as lowercase hex.
    public var publicKeySHA256: String
    /// The agent's labels as a JSON object, used to place resources.
    public var labels: String
    /// The drivers it serves as a JSON array of names, e.g. `["process","file"]`.
    public var drivers: String
    /// How many resources it accepts at once.
    public var capacity: Int64
    /// The host name it reported.
    public var hostname: String
    /// The version of the agent it runs.
    public var version: String
    /// When it first joined, in milliseconds since the Unix epoch; kept when it registers
    /// again.
    public var joinedAt: Int64
    /// When the coordinator last heard from it, in milliseconds since the Unix epoch.
    public var lastSeenAt: Int64

    public init(
        name: String, publicKeySHA256: String, labels: String = "{}", drivers: String = "[]", capacity: Int64,
        hostname: String, version: String, joinedAt: Int64, lastSeenAt: Int64
    ) {
        self.name = name
        self.publicKeySHA256 = publicKeySHA256
        self.labels = labels
        self.drivers = drivers
        self.capacity = capacity
        self.hostname = hostname
        self.version = version
        self.joinedAt = joinedAt
        self.lastSeenAt = lastSeenAt
    }
}
