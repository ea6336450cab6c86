/// Single-mutation writes, each one batch of its own.
extension StateStore {
    /// Puts a document: the same body as the latest version returns that version with
    /// `changed: false`; a different body creates the next version.
    public func putDocument(_ draft: CatalogDocumentDraft) async throws -> CatalogPutResult {
        let outcome = try await writeOne(.putDocument(draft))
        guard case .document(let result) = outcome else { preconditionFailure("put returned \(outcome)") }
        return result
    }

    /// Removes every version of a document and returns how many there were.
    @discardableResult
    public func deleteDocument(kind: String, name: String) async throws -> Int {
        try await removedCount(.deleteDocument(kind: kind, name: name))
    }

    /// The latest version of a document, or `nil`.
    public func document(kind: String, name: String) async throws -> CatalogDocument? {
        try await document(kind: kind, name: name, version: nil)
    }

    /// Creates an environment and returns its revision (1).
    @discardableResult
    public func createEnvironment(_ record: EnvironmentRecord) async throws -> Int64 {
        try await revision(.createEnvironment(record))
    }

    /// Replaces an environment if it is still at `expectedRevision`; returns the new revision.
    @discardableResult
    public func replaceEnvironment(_ record: EnvironmentRecord, expectedRevision: Int64) async throws -> Int64 {
        try await revision(.replaceEnvironment(record, expectedRevision: expectedRevision))
    }

    /// Sets an environment's phase; returns the new revision.
    @discardableResult
    public func setEnvironmentPhase(
        _ phase: String, of name: String, expectedRevision: Int64? = nil
    ) async throws -> Int64 {
        try await revision(.setEnvironmentPhase(name: name, phase: phase, expectedRevision: expectedRevision))
    }

    /// Removes an environment with its resources and journal; returns whether it existed.
    @discardableResult
    public func deleteEnvironment(named name: String) async throws -> Bool {
        try await removedCount(.deleteEnvironment(name: name)) > 0
    }

    /// Inserts or replaces a resource's state.
    public func upsertResource(_ record: ResourceRecord) async throws {
        _ = try await writeOne(.upsertResource(record))
    }

    /// Appends a journal entry and returns its sequence number.
    @discardableResult
    public func appendJournal(_ draft: JournalDraft) async throws -> Int64 {
        let outcome = try await writeOne(.appendJournal(draft))
        guard case .journalSequence(let sequence) = outcome else { preconditionFailure("append returned \(outcome)") }
        return sequence
    }

    /// Drops the entries of finished operations of one environment (or all, `nil`);
    /// returns how many were dropped.
    @discardableResult
    public func compactJournal(environment: String?) async throws -> Int {
        try await removedCount(.compactJournal(environment: environment))
    }

    /// Stores a new, unused join token.
    public func createJoinToken(_ record: JoinTokenRecord) async throws {
        _ = try await writeOne(.createJoinToken(record))
    }

    /// Removes the join tokens used or expired before `endedBefore`; returns how many.
    @discardableResult
    public func pruneJoinTokens(endedBefore: Int64) async throws -> Int {
        try await removedCount(.pruneJoinTokens(endedBefore: endedBefore))
    }

    /// Inserts an agent, or updates the agent of that name if it has the same public key.
    public func registerAgent(_ record: AgentRecord) async throws {
        _ = try await writeOne(.registerAgent(record))
    }

    /// Sets when an agent was last heard from; does nothing for a missing agent.
    public func touchAgent(named name: String, lastSeenAt: Int64) async throws {
        _ = try await writeOne(.touchAgent(name: name, lastSeenAt: lastSeenAt))
    }

    /// Removes an agent; returns whether it existed.
    @discardableResult
    public func deleteAgent(named name: String) async throws -> Bool {
        try await removedCount(.deleteAgent(name: name)) > 0
    }

    private func writeOne(_ mutation: StoreMutation) async throws -> MutationOutcome {
        let result = try await write([mutation])
        precondition(result.outcomes.count == 1, "a batch of one returned \(result.outcomes.count) outcomes")
        return result.outcomes[0]
    }

    private func revision(_ mutation: StoreMutation) async throws -> Int64 {
        let outcome = try await writeOne(mutation)
        guard case .environmentRevision(let revision) = outcome else {
            preconditionFailure("environment write returned \(outcome)")
        }
        return revision
    }

    private func removedCount(_ mutation: StoreMutation) async throws -> Int {
        let outcome = try await writeOne(mutation)
        guard case .removed(let count) = outcome else { preconditionFailure("removal returned \(outcome)") }
        return count
    }
}
