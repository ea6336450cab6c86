#if canImport(Glibc)
import Glibc
#endif

/// A write waiting for its commit: the batch, and who learns how it went.
struct PendingWrite: Sendable {
    enum Owner: Sendable {
        /// The caller, resumed once the batch is durable.
        case caller(CheckedContinuation<StoreWriteResult, any Error>)
        /// Nobody: the batch is in the transition log with this sequence number, and its
        /// writer has gone on already.
        case log(sequence: UInt64)
    }

    let batch: StoreBatch
    let owner: Owner

    /// The caller waiting for the batch, if one is.
    var continuation: CheckedContinuation<StoreWriteResult, any Error>? {
        if case .caller(let continuation) = owner { return continuation }
        return nil
    }

    /// The batch's sequence number in the transition log, if it is a logged one.
    var logSequence: UInt64? {
        if case .log(let sequence) = owner { return sequence }
        return nil
    }
}

/// Work for the database thread.
enum DatabaseJob: Sendable {
    /// A read, run on the thread with the connection; it resumes its caller itself.
    case read(@Sendable (SQLiteConnection) -> Void)
    /// A batch for the next group commit.
    case write(PendingWrite)
    /// Copy the write-ahead log into the database file (queued by a commit made on a
    /// caller's thread, which leaves the disk wait to the database thread).
    case checkpoint
    /// Close once the jobs queued before this one are done; resume the caller, if any.
    case close(CheckedContinuation<Void, Never>?)
}

/// The queue between callers and the database thread: callers append from any thread,
/// the database thread takes everything queued at once, which is what lets writes that
/// arrive during a commit share the next one.
///
/// It also hands out the connection. Whoever uses it holds the claim: the database thread
/// while it works through what it took, or a caller that found the connection idle and
/// nothing queued, and commits its batch on its own thread (``claimIfIdle()``). Because a
/// caller claims only when nothing is queued, batches still commit in the order they were
/// submitted.
final class DatabaseJobQueue: @unchecked Sendable {
    // @unchecked Sendable: `jobs`, `state` and `claimed` are read and written only with
    // `mutex` held; the mutex and condition are allocated once and destroyed in deinit.
    private enum State {
        /// Accepting every job.
        case open
        /// A close is queued: no more reads and writes; closes still queue.
        case closing
        /// The thread has exited; nothing is accepted.
        case finished
    }

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var jobs: [DatabaseJob] = []
    private var state = State.open
    private var claimed = false

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        let mutexResult = pthread_mutex_init(mutex, nil)
        let conditionResult = pthread_cond_init(condition, nil)
        // Initialising with default attributes fails only when the system is out of memory.
        precondition(mutexResult == 0 && conditionResult == 0, "store: pthread_mutex_init or pthread_cond_init failed")
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    private func withLock<Result>(_ body: () -> Result) -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// Queues a read or write; returns `false` when the store is closing or closed.
    func submit(_ job: DatabaseJob) -> Bool {
        let accepted = enqueue(job)
        if accepted { wake() }
        return accepted
    }

    /// Queues a read or write without waking the database thread, for a caller that
    /// holds a lock of its own and wakes it (``wake()``) once it has let go.
    func enqueue(_ job: DatabaseJob) -> Bool {
        withLock {
            guard case .open = state else { return false }
            jobs.append(job)
            return true
        }
    }

    /// Wakes the database thread for what was queued.
    func wake() { pthread_cond_signal(condition) }

    /// Queues a close; returns `false` when the thread has already exited.
    func submitClose(_ continuation: CheckedContinuation<Void, Never>?) -> Bool {
        let accepted = withLock {
            if case .finished = state { return false }
            state = .closing
            jobs.append(.close(continuation))
            return true
        }
        if accepted { pthread_cond_signal(condition) }
        return accepted
    }

    /// Claims the connection for the caller's thread if nobody uses it and nothing is
    /// queued; the caller gives it back with ``release()``.
    func claimIfIdle() -> Bool {
        withLock {
            guard case .open = state, jobs.isEmpty, !claimed else { return false }
            claimed = true
            return true
        }
    }

    /// Gives the connection back; the database thread takes what was queued meanwhile.
    func release() {
        let queued = withLock {
            claimed = false
            return !jobs.isEmpty
        }
        if queued { pthread_cond_signal(condition) }
    }

    /// For the database thread: waits until jobs are queued and the connection is free,
    /// claims it, and takes every job, in the order they were queued.
    func takeAll() -> [DatabaseJob] {
        withLock {
            while jobs.isEmpty || claimed { pthread_cond_wait(condition, mutex) }
            claimed = true
            let taken = jobs
            jobs = []
            return taken
        }
    }

    /// For the database thread, which keeps its claim: takes every job queued, if any,
    /// without waiting.
    func takeQueued() -> [DatabaseJob] {
        withLock {
            let taken = jobs
            jobs = []
            return taken
        }
    }

    /// Marks the thread exited and returns the closes queued since it last took jobs.
    func finish() -> [DatabaseJob] {
        withLock {
            state = .finished
            let left = jobs
            jobs = []
            return left
        }
    }
}
