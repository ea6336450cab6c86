import TrellisLogging

/// The loop of the database thread: takes every queued job, commits the writes among them
/// as one transaction (group commit), runs the reads, and repeats until closed.
///
/// With `synchronous=FULL` each commit costs an fsync of the WAL; batches that arrive while
/// one commit is in progress queue up and share the next, so the fsync rate stays bounded
/// by the disk while the batch rate grows with the number of concurrent writers. Each
/// caller is resumed only after the commit that holds its batch has returned.
final class DatabaseWorker {
    /// The most batches in one transaction; a larger backlog commits in several. Bounds
    /// the time a single commit holds the write lock and the latency of the first batch.
    static let maximumBatchesPerCommit = 4096

    private let connection: SQLiteConnection
    /// Whether the connection runs with `synchronous=FULL` now (it opens that way).
    private var flushesCommits = true
    private let queue: DatabaseJobQueue
    private let statistics: StatisticsRecorder
    private let logger: Logger

    init(
        connection: SQLiteConnection, queue: DatabaseJobQueue, statistics: StatisticsRecorder,
        logger: Logger
    ) {
        self.connection = connection
        self.queue = queue
        self.statistics = statistics
        self.logger = logger
    }

    /// Runs until a close job; then closes the connection and resumes whoever waits for it.
    func run() {
        var closers: [CheckedContinuation<Void, Never>?] = []
        var closing = false
        while !closing {
            var writes: [PendingWrite] = []
            var reads: [@Sendable (SQLiteConnection) -> Void] = []
            for job in queue.takeAll() {
                switch job {
                case .read(let body): reads.append(body)
                case .write(let write): writes.append(write)
                case .close(let continuation):
                    closers.append(continuation)
                    closing = true
                }
            }

            var start = 0
            while start < writes.count {
                let end = min(start + Self.maximumBatchesPerCommit, writes.count)
                commit(writes[start..<end])
                start = end
            }
            for read in reads { read(connection) }
        }

        connection.close()
        logger.debug("store closed", ["store.path": connection.path])
        for job in queue.finish() {
            if case .close(let continuation) = job { closers.append(continuation) }
        }
        for closer in closers { closer?.resume() }
    }

    /// Applies a group of batches in one transaction, each inside a savepoint so that a
    /// failing batch is undone alone, then commits and resumes every caller.
    private func commit(_ group: ArraySlice<PendingWrite>) {
        var results: [Result<StoreWriteResult, StoreError>] = []
        results.reserveCapacity(group.count)
        do throws(StoreError) {
            // One batch that must be flushed makes the whole commit flushed.
            let flush = group.contains { $0.batch.durability == .flushed }
            if flush != flushesCommits {
                try connection.execute(
                    flush ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                    operation: "set synchronous")
                flushesCommits = flush
            }
            try connection.run("BEGIN IMMEDIATE", operation: "begin transaction")
            for write in group {
                results.append(apply(write.batch))
                if !connection.isInTransaction {
                    // SQLite rolled the whole transaction back (disk full, I/O error): the
                    // batches applied before this one are gone too.
                    if case .failure(let cause) = results.last { throw cause }
                    throw StoreError(code: .database, message: "store: transaction rolled back by SQLite")
                }
            }
            try connection.run("COMMIT", operation: "commit")
        } catch {
            if connection.isInTransaction { try? connection.execute("ROLLBACK", operation: "roll back") }
            logger.debug("store commit failed", ["store.path": connection.path, "error": error.message])
            results = group.map { _ in .failure(error) }
        }

        let failed = results.count { if case .failure = $0 { true } else { false } }
        let mutations = group.reduce(0) { $0 + $1.batch.mutations.count }
        statistics.record { statistics in
            statistics.commits += 1
            statistics.batches += group.count - failed
            statistics.failedBatches += failed
            statistics.mutations += mutations
            statistics.largestCommit = max(statistics.largestCommit, group.count)
        }
        for (write, result) in zip(group, results) {
            write.continuation.resume(with: result.mapError { $0 as any Error })
        }
    }

    /// Applies one batch inside a savepoint; on failure rolls back to it and reports why.
    private func apply(_ batch: StoreBatch) -> Result<StoreWriteResult, StoreError> {
        do throws(StoreError) {
            try connection.run("SAVEPOINT batch", operation: "begin batch")
            var outcomes: [MutationOutcome] = []
            outcomes.reserveCapacity(batch.mutations.count)
            for mutation in batch.mutations {
                outcomes.append(try connection.apply(mutation))
            }
            try connection.run("RELEASE batch", operation: "end batch")
            return .success(StoreWriteResult(outcomes: outcomes))
        } catch {
            if connection.isInTransaction {
                do throws(StoreError) {
                    try connection.execute("ROLLBACK TO batch", operation: "undo batch")
                    try connection.execute("RELEASE batch", operation: "undo batch")
                } catch let undo {
                    // Leave the transaction so that the caller abandons the whole group.
                    try? connection.execute("ROLLBACK", operation: "roll back")
                    return .failure(undo)
                }
            }
            return .failure(error)
        }
    }
}
