/// A single-use token that lets one host join as an agent.
///
/// The store keeps the SHA-256 of the token's secret, never the secret itself, and marks
/// the token used in the same batch that registers the agent it admitted (see
/// ``StoreMutation/consumeJoinToken(id:secretSHA256:agent:now:)``).
///
/// States, by the fields that are set:
///
/// ```
/// unused ──(consumed before expiresAt)──▶ used (usedAt, usedBy)
///    └──(now >= expiresAt)──▶ expired (nothing changes; consuming fails)
/// ```
public struct JoinTokenRecord: Sendable, Hashable {
    /// The token's public identifier, unique in the store.
    public var id: String
    /// The SHA-256 of the token's secret, as lowercase hex.
    public var secretSHA256: String
    /// Labels given to the agent that joins with it, as a JSON object.
    public var labels: String
    /// When the token was created, in milliseconds since the Unix epoch.
    public var createdAt: Int64
    /// From when it can no longer be used, in milliseconds since the Unix epoch.
    public var expiresAt: Int64
    /// When it was used, in milliseconds since the Unix epoch; `nil` while unused.
    public var usedAt: Int64?
    /// The name of the agent that joined with it; `nil` while unused.
    public var usedBy: String?

    public init(
        id: String, secretSHA256: String, labels: String = "{}", createdAt: Int64, expiresAt: Int64,
        usedAt: Int64? = nil, usedBy: String? = nil
    ) {
        self.id = id
        self.secretSHA256 = secretSHA256
        self.labels = labels
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.usedBy = usedBy
    }
}
