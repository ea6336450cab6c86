/// The coordinator's durable state: catalog documents, environments, their resources, the
/// intent journal, and the agents with the join tokens that admit them.
///
/// The store knows records and JSON text, not the domain: specs, graphs and plans stay in
/// the layers above. Every write goes through ``write(_:)``, one atomic batch that has
/// been made durable by the time the call returns; reads see every batch whose write
/// returned before they started.
///
/// Nothing in this interface assumes one process. Environments carry revisions for
/// optimistic concurrency, sequence numbers and versions are assigned by the store, and
/// times are supplied by the caller, so a store shared by several coordinators (one
/// database, one leader) implements it the same way as the embedded one.
///
/// Errors are ``StoreError``s. Implementations are safe to call from any task.
public protocol StateStore: Sendable {
    /// Applies a batch atomically and returns once it is durable.
    ///
    /// Either every mutation is applied or, when one fails, none is and its error is thrown.
    /// A write that has begun is not abandoned when the calling task is cancelled: its
    /// outcome is unknown to the caller until a read shows it.
    @discardableResult
    func write(_ batch: StoreBatch) async throws -> StoreWriteResult

    /// A document's latest version, or the given one; `nil` when there is none.
    func document(kind: String, name: String, version: Int64?) async throws -> CatalogDocument?

    /// Documents ordered by kind, name and version: of one kind or of every kind (`nil`),
    /// the latest version of each name or every version.
    func documents(kind: String?, allVersions: Bool) async throws -> [CatalogDocument]

    /// The environment with this name, or `nil`.
    func environment(named name: String) async throws -> EnvironmentRecord?

    /// The environments matching `filter`, ordered by name.
    func environments(matching filter: EnvironmentFilter) async throws -> [EnvironmentRecord]

    /// Environments whose time to live has run out at `now` (milliseconds since the epoch)
    /// and whose deletion has not been requested yet, ordered by expiry.
    func expiredEnvironments(now: Int64) async throws -> [EnvironmentRecord]

    /// The resources of an environment, ordered by name.
    func resources(inEnvironment environment: String) async throws -> [ResourceRecord]

    /// One resource of an environment, or `nil`.
    func resource(inEnvironment environment: String, named name: String) async throws -> ResourceRecord?

    /// The resources placed on an agent, ordered by environment, then name.
    func resources(onAgent agent: String) async throws -> [ResourceRecord]

    /// The agent with this name, or `nil`.
    func agent(named name: String) async throws -> AgentRecord?

    /// Every agent, ordered by name.
    func agents() async throws -> [AgentRecord]

    /// The join token with this id, used or not, or `nil`. The record holds the secret's
    /// hash only.
    func joinToken(id: String) async throws -> JoinTokenRecord?

    /// The journal of an environment after a sequence number (`nil`: from the start), in
    /// sequence order.
    func journal(ofEnvironment environment: String, after sequence: Int64?) async throws -> [JournalEntry]

    /// The operations of an environment that were intended and have no terminal record,
    /// ordered by their intent's sequence number: the work to resume after a restart.
    func unfinishedWork(ofEnvironment environment: String) async throws -> [UnfinishedWork]

    /// The names of environments with unfinished work, ordered by name.
    func environmentsWithUnfinishedWork() async throws -> [String]

    /// Finishes every write already submitted, then releases the database. Later calls
    /// fail with ``StoreError/Code/closed``. Calling it again does nothing.
    func close() async
}
