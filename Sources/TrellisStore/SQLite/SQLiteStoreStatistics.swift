/// Counters of a ``SQLiteStore``'s commits since it was opened.
public struct SQLiteStoreStatistics: Sendable, Hashable {
    /// Transactions committed, or attempted and rolled back. With `synchronous=FULL` each
    /// committed transaction is one fsync of the write-ahead log.
    public var commits = 0
    /// Batches committed.
    public var batches = 0
    /// Batches that failed and were undone.
    public var failedBatches = 0
    /// Mutations in all batches, committed or not.
    public var mutations = 0
    /// The most batches one transaction held.
    public var largestCommit = 0
    /// Of `commits`, those made on the writing caller's own thread because the connection
    /// was idle and nothing was queued (no hand-off to the database thread and back).
    public var directCommits = 0
    /// Of `batches`, those acknowledged once in the transition log, before their commit.
    public var loggedBatches = 0
    /// Checkpoints: the write-ahead log copied into the database file and started over.
    public var checkpoints = 0

    public init() {}

    /// Batches per transaction: how well group commit amortises the fsync.
    public var batchesPerCommit: Double {
        commits == 0 ? 0 : Double(batches + failedBatches) / Double(commits)
    }
}
