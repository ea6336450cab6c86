import TrellisLogging

#if canImport(Glibc)
import Glibc
#endif

/// Commits and reads on the store's connection: the loop of the database thread, and the
/// commits callers make on their own threads when the connection is idle.
///
/// The loop takes every queued job, commits the writes among them as one transaction
/// (group commit), runs the reads, and repeats until closed. With `synchronous=FULL` a
/// commit costs an fsync of the WAL; batches that arrive while one commit is in progress
/// queue up and share the next, so the fsync rate stays bounded by the disk while the batch
/// rate grows with the number of concurrent writers. Each caller is resumed only after the
/// commit that holds its batch has returned.
///
/// Checkpoints (copying the WAL into the database file, with fsyncs) run only on the
/// database thread, once the log holds ``checkpointFrames`` frames.
///
/// Batches from the transition log have no caller waiting: a commit that holds them also
/// records the last one's sequence number, and tells the log. If such a commit fails as a
/// whole (the disk is full, say), the thread keeps its claim on the connection, so that
/// nothing commits ahead of those batches, and tries them again every
/// ``logRetryMicroseconds``, serving reads meanwhile; they stay in the log until then.
final class DatabaseWorker: @unchecked Sendable {
    // @unchecked Sendable: every method but `run` is called by a thread holding the queue's
    // claim, and `run` calls them only while it holds it; so one thread at a time touches
    // the connection and `flushesCommits`.

    /// The most batches in one transaction; a larger backlog commits in several. Bounds
    /// the time a single commit holds the write lock and the latency of the first batch.
    static let maximumBatchesPerCommit = 4096

    /// WAL frames (one changed page each) at which the log is copied into the database file
    /// and started over: 16 MiB of 4 KiB pages. Larger than SQLite's default of 1,000, so
    /// that a page changed by many commits is copied once rather than once per thousand
    /// frames, and the checkpoints' fsyncs are rarer.
    static let checkpointFrames = 4096

    /// How long the thread waits before it tries again to apply logged batches whose
    /// commit failed.
    static let logRetryMicroseconds: UInt32 = 100_000

    private let connection: SQLiteConnection
    private let log: TransitionLog?
    /// Whether the connection runs with `synchronous=FULL` now (it opens that way).
    private var flushesCommits = true
    /// Whether a checkpoint job is queued and not yet run.
    private var checkpointQueued = false
    private let queue: DatabaseJobQueue
    private let statistics: StatisticsRecorder
    private let logger: Logger

    init(
        connection: SQLiteConnection, log: TransitionLog?, queue: DatabaseJobQueue, statistics: StatisticsRecorder,
        logger: Logger
    ) {
        self.connection = connection
        self.log = log
        self.queue = queue
        self.statistics = statistics
        self.logger = logger
        connection.trackWALFrames()
    }

    /// Runs until a close job; then closes the connection and resumes whoever waits for it.
    func run() {
        var closers: [CheckedContinuation<Void, Never>?] = []
        var closing = false
        // Logged batches whose commit failed, to be tried again first.
        var retry: [PendingWrite] = []
        while !closing {
            var writes = retry
            retry = []
            var reads: [@Sendable (SQLiteConnection) -> Void] = []
            for job in writes.isEmpty ? queue.takeAll() : queue.takeQueued() {
                switch job {
                case .read(let body): reads.append(body)
                case .write(let write): writes.append(write)
                case .checkpoint: checkpointQueued = false
                case .close(let continuation):
                    closers.append(continuation)
                    closing = true
                }
            }

            var start = 0
            // Once logged batches could not be committed, nothing after them is: later
            // logged batches wait with them, in order, and the other writes fail with them.
            var stoppedBy: StoreError?
            var answers: [(CheckedContinuation<StoreWriteResult, any Error>, Result<StoreWriteResult, StoreError>)] = []
            while start < writes.count {
                let end = min(start + Self.maximumBatchesPerCommit, writes.count)
                let group = writes[start..<end]
                if let stoppedBy {
                    for write in group {
                        if let continuation = write.continuation {
                            continuation.resume(throwing: stoppedBy)
                        } else {
                            retry.append(write)
                        }
                    }
                    start = end
                    continue
                }
                let logged = group.lazy.compactMap(\.logSequence).max()
                let (results, committed) = commit(
                    group.map(\.batch), loggedThrough: logged, isLogged: group.map { $0.logSequence != nil })
                if committed, let logged { log?.markApplied(through: logged) }
                for (write, result) in zip(group, results) {
                    if let continuation = write.continuation {
                        answers.append((continuation, result))
                    } else if !committed {
                        retry.append(write)
                        if stoppedBy == nil, case .failure(let error) = result { stoppedBy = error }
                    } else if case .failure(let error) = result {
                        logger.error(
                            "store dropped a logged batch the database refused",
                            ["store.log_sequence": String(write.logSequence ?? 0), "error": error.message])
                    }
                }
                start = end
            }
            // With nothing more to do this round, the connection goes back before the writers
            // hear of their commits: a lone writer answered first would find it still taken
            // and queue its next batch here rather than commit it on its own thread.
            let checkpointDue = connection.framesInWAL >= Self.checkpointFrames
            if reads.isEmpty && retry.isEmpty && !closing && !checkpointDue {
                queue.release()
                Self.answer(answers)
                continue
            }
            Self.answer(answers)
            for read in reads { read(connection) }
            if checkpointDue { checkpoint() }
            if !retry.isEmpty && !closing {
                logger.error(
                    "store could not apply logged batches; they stay in the transition log and are tried again",
                    ["store.logged_batches": String(retry.count)])
                usleep(Self.logRetryMicroseconds)
            }
            // Kept while logged batches wait to be tried again, so that nothing commits first.
            if !closing && retry.isEmpty { queue.release() }
        }

        connection.close()
        logger.debug("store closed", ["store.path": connection.path])
        for job in queue.finish() {
            if case .close(let continuation) = job { closers.append(continuation) }
        }
        for closer in closers { closer?.resume() }
    }

    private static func answer(
        _ answers: [(CheckedContinuation<StoreWriteResult, any Error>, Result<StoreWriteResult, StoreError>)]
    ) {
        for (continuation, result) in answers { continuation.resume(with: result.mapError { $0 as any Error }) }
    }

    /// Commits one batch on the caller's thread, which holds the queue's claim; leaves a
    /// checkpoint, when one is due, to the database thread.
    func commitNow(_ batch: StoreBatch) -> Result<StoreWriteResult, StoreError> {
        let result = commit([batch], loggedThrough: nil, isLogged: [false]).results[0]
        statistics.record { $0.directCommits += 1 }
        if connection.framesInWAL >= Self.checkpointFrames && !checkpointQueued {
            checkpointQueued = queue.submit(.checkpoint)
        }
        return result
    }

    private func checkpoint() {
        do throws(StoreError) {
            try connection.checkpoint()
            statistics.record { $0.checkpoints += 1 }
        } catch {
            // The frames stay in the log, which is still the database; the next one retries.
            logger.warning("store checkpoint failed", ["store.path": connection.path, "error": error.message])
        }
    }

    /// Applies a group of batches in one transaction, each inside a savepoint so that a
    /// failing batch is undone alone, then commits; returns each batch's result, and
    /// whether the transaction committed. With `loggedThrough`, the group holds logged
    /// batches (`isLogged`) up to that sequence number, which the transaction records.
    /// A logged batch may fail alone only when the database refuses it (a constraint:
    /// its environment is gone); any other failure of one (the disk is full) fails the
    /// whole transaction, so that the batch is tried again rather than recorded as applied.
    private func commit(
        _ group: [StoreBatch], loggedThrough: UInt64?, isLogged: [Bool]
    ) -> (results: [Result<StoreWriteResult, StoreError>], committed: Bool) {
        var committed = false
        var results: [Result<StoreWriteResult, StoreError>] = []
        results.reserveCapacity(group.count)
        do throws(StoreError) {
            // One batch that must be flushed makes the whole commit flushed.
            let flush = group.contains { $0.durability == .flushed }
            if flush != flushesCommits {
                try connection.execute(
                    flush ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL",
                    operation: "set synchronous")
                flushesCommits = flush
            }
            try connection.run("BEGIN IMMEDIATE", operation: "begin transaction")
            if group.count == 1 && loggedThrough == nil {
                // A batch alone needs no savepoint: if it fails, the transaction is rolled
                // back, which undoes just that batch. (A logged one takes the path below,
                // which tells its failure from the transaction's.)
                results.append(.success(try applyMutations(of: group[0])))
            } else if let together = try? applyTogether(group) {
                // Almost every group succeeds whole; it then needs no savepoints either.
                results = together
            } else {
                // Some batch failed, and took the group's work with it: the group runs
                // again with a savepoint per batch, so that only the failing ones are undone.
                if connection.isInTransaction { try connection.execute("ROLLBACK", operation: "roll back") }
                try connection.run("BEGIN IMMEDIATE", operation: "begin transaction")
                for batch in group {
                    results.append(apply(batch))
                    if !connection.isInTransaction {
                        // SQLite rolled the whole transaction back (disk full, I/O error): the
                        // batches applied before this one are gone too.
                        if case .failure(let cause) = results.last { throw cause }
                        throw StoreError(code: .database, message: "store: transaction rolled back by SQLite")
                    }
                }
            }
            for (result, logged) in zip(results, isLogged) where logged {
                if case .failure(let error) = result, error.code != .constraint { throw error }
            }
            if let loggedThrough {
                try connection.run(
                    "UPDATE transition_log SET applied = ? WHERE id = 1",
                    operation: "record the logged batches applied",
                    [.integer(Int64(loggedThrough))])
            }
            try connection.run("COMMIT", operation: "commit")
            committed = true
        } catch {
            if connection.isInTransaction { try? connection.execute("ROLLBACK", operation: "roll back") }
            logger.debug("store commit failed", ["store.path": connection.path, "error": error.message])
            results = group.map { _ in .failure(error) }
        }

        let failed = results.count { if case .failure = $0 { true } else { false } }
        let mutations = group.reduce(0) { $0 + $1.mutations.count }
        statistics.record { statistics in
            statistics.commits += 1
            statistics.batches += group.count - failed
            statistics.failedBatches += failed
            statistics.mutations += mutations
            statistics.largestCommit = max(statistics.largestCommit, group.count)
        }
        return (results, committed)
    }

    /// Runs a batch's mutations in the open transaction.
    private func applyMutations(of batch: StoreBatch) throws(StoreError) -> StoreWriteResult {
        var outcomes: [MutationOutcome] = []
        outcomes.reserveCapacity(batch.mutations.count)
        for mutation in batch.mutations {
            outcomes.append(try connection.apply(mutation))
        }
        return StoreWriteResult(outcomes: outcomes)
    }

    /// Runs every batch of `group` in the open transaction, without savepoints; throws at
    /// the first failure, leaving the transaction to be rolled back.
    private func applyTogether(_ group: [StoreBatch]) throws(StoreError) -> [Result<StoreWriteResult, StoreError>] {
        var results: [Result<StoreWriteResult, StoreError>] = []
        results.reserveCapacity(group.count)
        for batch in group { results.append(.success(try applyMutations(of: batch))) }
        return results
    }

    /// Applies one batch inside a savepoint; on failure rolls back to it and reports why.
    private func apply(_ batch: StoreBatch) -> Result<StoreWriteResult, StoreError> {
        do throws(StoreError) {
            try connection.run("SAVEPOINT batch", operation: "begin batch")
            let result = try applyMutations(of: batch)
            try connection.run("RELEASE batch", operation: "end batch")
            return .success(result)
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
