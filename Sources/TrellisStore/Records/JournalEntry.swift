/// A step of the intent journal: how far one operation on one resource (or on the whole
/// environment) has come.
///
/// An operation's entries follow this order, and the engine writes each one before it acts
/// on it:
///
/// ```
/// intent ──▶ started ──▶ succeeded
///                   └──▶ failed
/// ```
///
/// An operation whose latest ``intent`` is not followed by a terminal transition is
/// unfinished: after a restart the engine runs it again, which is safe because drivers are
/// idempotent. Names other than these four may be used; the store only distinguishes
/// ``intent`` and whether a transition ``isTerminal``.
public struct JournalTransition: Sendable, Hashable, CustomStringConvertible {
    /// The transition's name, stored as written, e.g. `started`.
    public var name: String
    /// Whether the operation is over once this transition is recorded.
    public var isTerminal: Bool

    public init(_ name: String, isTerminal: Bool) {
        self.name = name
        self.isTerminal = isTerminal
    }

    /// The operation is about to be carried out; written before anything is sent to a driver.
    public static let intent = JournalTransition("intent", isTerminal: false)
    /// The operation was handed to a driver.
    public static let started = JournalTransition("started", isTerminal: false)
    /// The operation completed.
    public static let succeeded = JournalTransition("succeeded", isTerminal: true)
    /// The operation failed for good; retries, if any, are over.
    public static let failed = JournalTransition("failed", isTerminal: true)

    /// The ``name``.
    public var description: String { name }
}

/// A journal entry to append; the store assigns its sequence number.
public struct JournalDraft: Sendable, Hashable {
    /// The environment the operation belongs to.
    public var environment: String
    /// The resource the operation acts on; `nil` for an operation on the environment itself.
    public var resource: String?
    /// The operation, e.g. `apply` or `delete`.
    public var operation: String
    /// How far the operation has come.
    public var transition: JournalTransition
    /// What the engine needs to carry the operation out again, as JSON text.
    public var payload: String
    /// When the transition happened, in milliseconds since the Unix epoch.
    public var time: Int64

    public init(
        environment: String, resource: String?, operation: String, transition: JournalTransition,
        payload: String = "{}", time: Int64
    ) {
        self.environment = environment
        self.resource = resource
        self.operation = operation
        self.transition = transition
        self.payload = payload
        self.time = time
    }
}

/// A stored journal entry.
public struct JournalEntry: Sendable, Hashable {
    /// The sequence number: increasing in the order entries were committed, never reused.
    public var sequence: Int64
    /// The environment the operation belongs to.
    public var environment: String
    /// The resource the operation acts on; `nil` for an operation on the environment itself.
    public var resource: String?
    /// The operation, e.g. `apply` or `delete`.
    public var operation: String
    /// How far the operation has come.
    public var transition: JournalTransition
    /// The payload, as JSON text.
    public var payload: String
    /// When the transition happened, in milliseconds since the Unix epoch.
    public var time: Int64

    public init(
        sequence: Int64, environment: String, resource: String?, operation: String, transition: JournalTransition,
        payload: String, time: Int64
    ) {
        self.sequence = sequence
        self.environment = environment
        self.resource = resource
        self.operation = operation
        self.transition = transition
        self.payload = payload
        self.time = time
    }
}

/// An operation that was intended and has no terminal record yet.
public struct UnfinishedWork: Sendable, Hashable {
    /// The latest intent of the operation.
    public var intent: JournalEntry
    /// The latest entry of the operation: the intent itself, or a later non-terminal step
    /// such as `started`.
    public var latest: JournalEntry

    public init(intent: JournalEntry, latest: JournalEntry) {
        self.intent = intent
        self.latest = latest
    }
}
