/// One unit of work in a graph: an id, what must finish before it, and the concurrency
/// group it counts against (the driver type, for resources).
public struct WorkItem: Sendable, Hashable {
    public let id: String
    public let dependencies: [String]
    public let group: String

    public init(id: String, dependencies: [String], group: String) {
        self.id = id
        self.dependencies = dependencies
        self.group = group
    }

    /// The same items with every edge turned around: for deletion, where an item may go
    /// only after everything that depends on it is gone.
    public static func reversed(_ items: [WorkItem]) -> [WorkItem] {
        var dependents: [String: [String]] = [:]
        for item in items {
            for dependency in item.dependencies { dependents[dependency, default: []].append(item.id) }
        }
        return items.map { WorkItem(id: $0.id, dependencies: dependents[$0.id] ?? [], group: $0.group) }
    }
}

/// A step's failure, as the step reports it.
public struct StepError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for the user.
    public var message: String
    /// Whether trying again may succeed (a timeout, a busy server), as opposed to a
    /// failure that will repeat (bad params).
    public var retryable: Bool

    public init(_ message: String, retryable: Bool = false) {
        self.message = message
        self.retryable = retryable
    }

    public var description: String { message }
}

/// How many steps run at once, and how failed steps are retried.
public struct ExecutionLimits: Sendable, Hashable {
    /// Steps running at once, overall.
    public var maxConcurrent: Int = 64
    /// Steps running at once per group; groups not listed use `defaultPerGroup`.
    public var perGroup: [String: Int] = [:]
    public var defaultPerGroup: Int = 32
    /// Attempts per step for retryable errors, the first included.
    public var maxAttempts: Int = 3
    /// The wait before the first retry; each later wait doubles, up to `maxBackoff`.
    public var initialBackoff: Duration = .milliseconds(200)
    public var maxBackoff: Duration = .seconds(5)
    /// How long a finished step's record waits for a step to start and carry it before it
    /// is written alone; zero writes it at once.
    public var settleDelay: Duration = .milliseconds(2)

    public init() {}

    func limit(for group: String) -> Int { max(1, perGroup[group] ?? defaultPerGroup) }
}

/// How one item ended.
public enum ItemOutcome: Sendable, Hashable {
    case succeeded(attempts: Int)
    case failed(message: String, attempts: Int)
    /// Not started because `dependency` (directly or through others) failed.
    case blocked(dependency: String)
    /// Not started because the run was cancelled.
    case notStarted
}

/// What happened during a run, as it happens.
public enum ExecutionEvent: Sendable, Hashable {
    case started(id: String, attempt: Int)
    case succeeded(id: String, attempts: Int)
    case retrying(id: String, attempt: Int, message: String, after: Duration)
    case failed(id: String, message: String, attempts: Int)
    case blocked(id: String, dependency: String)
}

/// The outcome of every item of a run.
public struct ExecutionReport: Sendable, Hashable {
    public var outcomes: [String: ItemOutcome]

    public init(outcomes: [String: ItemOutcome]) {
        self.outcomes = outcomes
    }

    /// Whether every item succeeded.
    public var allSucceeded: Bool {
        outcomes.values.allSatisfy { if case .succeeded = $0 { true } else { false } }
    }

    public var succeeded: [String] { ids { if case .succeeded = $0 { true } else { false } } }
    public var failed: [String] { ids { if case .failed = $0 { true } else { false } } }
    public var blocked: [String] { ids { if case .blocked = $0 { true } else { false } } }

    private func ids(_ matching: (ItemOutcome) -> Bool) -> [String] {
        outcomes.filter { matching($0.value) }.map(\.key).sorted()
    }
}
