/// One write of a ``StoreBatch``.
public enum StoreMutation: Sendable, Hashable {
    /// Stores a document: a new version when the body differs from the latest version's,
    /// nothing when it is the same. Outcome: ``MutationOutcome/document(_:)``.
    case putDocument(CatalogDocumentDraft)
    /// Removes every version of a document. Outcome: ``MutationOutcome/removed(_:)``.
    case deleteDocument(kind: String, name: String)
    /// Creates an environment at revision 1; the record's `revision` is ignored. Fails with
    /// ``StoreError/Code/alreadyExists`` when the name is taken.
    /// Outcome: ``MutationOutcome/environmentRevision(_:)``.
    case createEnvironment(EnvironmentRecord)
    /// Replaces every field of an environment if its revision is `expectedRevision`; the
    /// record's `revision` is ignored. Fails with ``StoreError/Code/conflict`` or
    /// ``StoreError/Code/notFound``. Outcome: ``MutationOutcome/environmentRevision(_:)``.
    case replaceEnvironment(EnvironmentRecord, expectedRevision: Int64)
    /// Sets an environment's phase, checking the revision when one is given.
    /// Outcome: ``MutationOutcome/environmentRevision(_:)``.
    case setEnvironmentPhase(name: String, phase: String, expectedRevision: Int64?)
    /// Marks an environment for deletion, checking the revision when one is given.
    /// Outcome: ``MutationOutcome/environmentRevision(_:)``.
    case requestEnvironmentDeletion(name: String, expectedRevision: Int64?)
    /// Removes an environment with its resources and journal entries.
    /// Outcome: ``MutationOutcome/removed(_:)`` (0 or 1).
    case deleteEnvironment(name: String)
    /// Inserts or replaces a resource's state; its environment must exist. Health and
    /// drift are written only when the resource is new: after that they change only
    /// through ``setResourceHealth(environment:name:health:message:)`` and
    /// ``setResourceDrift(environment:name:drift:)``, so that a transition written from
    /// an older read never undoes a report that arrived in between.
    /// Outcome: ``MutationOutcome/applied``.
    case upsertResource(ResourceRecord)
    /// Records how a resource's run ended: its phase, outputs, secret output keys, last
    /// error and finish time, from `record`, on the row its start wrote; the rest of the
    /// row is left as it is. A row that is missing is inserted whole, as
    /// ``upsertResource(_:)`` would. Outcome: ``MutationOutcome/applied``.
    case finishResource(ResourceRecord)
    /// Removes a resource's state. Outcome: ``MutationOutcome/removed(_:)`` (0 or 1).
    case deleteResource(environment: String, name: String)
    /// Appends a journal entry. Outcome: ``MutationOutcome/journalSequence(_:)``.
    case appendJournal(JournalDraft)
    /// Drops the journal entries of finished operations: for each operation, every entry up
    /// to its last terminal one. Entries of unfinished operations stay. `nil` compacts every
    /// environment. Outcome: ``MutationOutcome/removed(_:)``.
    case compactJournal(environment: String?)
    /// Records a resource's health as its agent reported it, leaving every other field as
    /// it is. A resource that does not exist (deleted while the report was on its way) is
    /// not an error and nothing changes. Outcome: ``MutationOutcome/applied``.
    case setResourceHealth(environment: String, name: String, health: String, message: String)
    /// Records why a resource drifted from its applied spec (empty: it no longer does),
    /// leaving every other field as it is. A missing resource is not an error and nothing
    /// changes. Outcome: ``MutationOutcome/applied``.
    case setResourceDrift(environment: String, name: String, drift: String)
    /// Stores a new join token, unused whatever the record's `usedAt` and `usedBy` say.
    /// Fails with ``StoreError/Code/alreadyExists`` when the id is taken.
    /// Outcome: ``MutationOutcome/applied``.
    case createJoinToken(JoinTokenRecord)
    /// Marks a join token used by `agent` at `now` (milliseconds since the epoch).
    ///
    /// Fails, changing nothing, with ``StoreError/Code/tokenUnknown`` when there is no
    /// token with this id or its secret's hash is not `secretSHA256` (one code for both),
    /// ``StoreError/Code/tokenUsed`` when it was used already, and
    /// ``StoreError/Code/tokenExpired`` when `now` is at or after its expiry. Messages name
    /// the token's id, never a secret. Put it in the batch that registers the agent, so
    /// that the token is spent exactly when the agent exists.
    /// Outcome: ``MutationOutcome/applied``.
    case consumeJoinToken(id: String, secretSHA256: String, agent: String, now: Int64)
    /// Removes the join tokens that ended before `endedBefore` (milliseconds since the
    /// epoch): used before it, or expired before it. Outcome: ``MutationOutcome/removed(_:)``.
    case pruneJoinTokens(endedBefore: Int64)
    /// Inserts an agent, or updates every field but `joinedAt` of the agent of that name
    /// when it has the same public key. Fails with ``StoreError/Code/alreadyExists`` when
    /// an agent of that name has a different key. Outcome: ``MutationOutcome/applied``.
    case registerAgent(AgentRecord)
    /// Sets when an agent was last heard from; a missing agent is not an error.
    /// Outcome: ``MutationOutcome/applied``.
    case touchAgent(name: String, lastSeenAt: Int64)
    /// Removes an agent. The resources placed on it keep its name in `agent`.
    /// Outcome: ``MutationOutcome/removed(_:)`` (0 or 1).
    case deleteAgent(name: String)
}

/// How durable a write is once `write` returns.
public enum StoreDurability: Sendable, Hashable {
    /// On disk: survives a power loss (the commit waits for an fsync).
    case flushed
    /// Handed to the operating system: survives the coordinator being killed, not a power
    /// loss, after which the latest such writes may be missing (never a later one without
    /// an earlier one). For records that are safe to lose because the work they describe
    /// is idempotent and is redone when its record is missing.
    case written
    /// As durable as ``written``, for the transitions of resources that the engine writes
    /// before each step it takes: ``StoreMutation/upsertResource(_:)``,
    /// ``StoreMutation/finishResource(_:)`` and
    /// ``StoreMutation/setResourceDrift(environment:name:drift:)`` only. A store may
    /// acknowledge such a batch once it is in a log of its own, before the database has
    /// it, as long as every read that starts after the write returns sees it. The caller
    /// vouches that the batch applies: it is what the writer of a resource does, for an
    /// environment that exists. One the database refuses all the same (its environment
    /// was removed in between, taking the resource's row with it) is dropped and logged.
    /// A batch with any other mutation, or for a store without such a log, is
    /// ``written``.
    case logged
}

/// Several writes applied atomically: all of them or, when one fails, none.
///
/// A resource transition updates the resource's state and appends to the journal in one
/// batch, so that the two never disagree after a crash.
public struct StoreBatch: Sendable, Hashable, ExpressibleByArrayLiteral {
    /// The writes, applied in order.
    public var mutations: [StoreMutation]
    /// What a crash after the write returns may cost.
    public var durability: StoreDurability = .flushed

    public init(_ mutations: [StoreMutation] = [], durability: StoreDurability = .flushed) {
        self.mutations = mutations
        self.durability = durability
    }

    public init(arrayLiteral mutations: StoreMutation...) {
        self.mutations = mutations
    }

    /// Adds a write at the end.
    public mutating func append(_ mutation: StoreMutation) {
        mutations.append(mutation)
    }

    /// Whether the batch has no writes.
    public var isEmpty: Bool { mutations.isEmpty }
}

/// What one mutation of a batch did.
public enum MutationOutcome: Sendable, Hashable {
    /// The mutation was applied and has nothing to report.
    case applied
    /// The version a document put resolved to.
    case document(CatalogPutResult)
    /// The environment's revision after the write.
    case environmentRevision(Int64)
    /// The sequence number of an appended journal entry.
    case journalSequence(Int64)
    /// How many records were removed.
    case removed(Int)
}

/// What a batch did: one outcome per mutation, in the batch's order.
public struct StoreWriteResult: Sendable, Hashable {
    /// The outcomes, one per mutation.
    public var outcomes: [MutationOutcome]

    public init(outcomes: [MutationOutcome]) {
        self.outcomes = outcomes
    }
}
