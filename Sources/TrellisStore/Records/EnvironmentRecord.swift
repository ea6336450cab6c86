/// The stored state of one environment.
///
/// ``revision`` makes concurrent writers safe: every write that changes an environment
/// increments it, and a write that names an expected revision fails with
/// ``StoreError/Code/conflict`` when another writer came first. This holds across
/// processes as well, for several coordinators sharing one database.
public struct EnvironmentRecord: Sendable, Hashable {
    /// The environment's name, unique in the store.
    public var name: String
    /// The environment's spec as JSON text.
    public var spec: String
    /// The template the environment instantiates.
    public var templateName: String
    /// The template version it was planned from.
    public var templateVersion: Int64
    /// The owning team.
    public var team: String
    /// The environment's labels as a JSON object.
    public var labels: String
    /// The lifecycle phase, named by the engine (e.g. `Pending`, `Ready`, `Failed`).
    public var phase: String
    /// When the environment was created, in milliseconds since the Unix epoch.
    public var createdAt: Int64
    /// Time to live in seconds counted from ``createdAt``; `nil` lives until deleted.
    public var ttlSeconds: Int64?
    /// Whether deletion was requested, by a user or by the TTL loop.
    public var deletionRequested: Bool
    /// The revision, assigned by the store: 1 when created, incremented by every write.
    public var revision: Int64

    public init(
        name: String, spec: String, templateName: String, templateVersion: Int64, team: String,
        labels: String = "{}", phase: String, createdAt: Int64, ttlSeconds: Int64? = nil,
        deletionRequested: Bool = false, revision: Int64 = 0
    ) {
        self.name = name
        self.spec = spec
        self.templateName = templateName
        self.templateVersion = templateVersion
        self.team = team
        self.labels = labels
        self.phase = phase
        self.createdAt = createdAt
        self.ttlSeconds = ttlSeconds
        self.deletionRequested = deletionRequested
        self.revision = revision
    }

    /// When the time to live runs out, in milliseconds since the epoch, if it has one.
    public var expiresAt: Int64? {
        ttlSeconds.map { createdAt + $0 * 1000 }
    }
}

/// Which environments a listing returns; every field left `nil` matches everything.
public struct EnvironmentFilter: Sendable, Hashable {
    /// Only environments in this phase.
    public var phase: String?
    /// Only environments of this team.
    public var team: String?
    /// Only environments instantiating this template.
    public var templateName: String?
    /// Only environments whose deletion was (or was not) requested.
    public var deletionRequested: Bool?

    public init(
        phase: String? = nil, team: String? = nil, templateName: String? = nil, deletionRequested: Bool? = nil
    ) {
        self.phase = phase
        self.team = team
        self.templateName = templateName
        self.deletionRequested = deletionRequested
    }

    /// Matches every environment.
    public static let all = EnvironmentFilter()
}
