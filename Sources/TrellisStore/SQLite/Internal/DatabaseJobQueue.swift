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
/// Logged batches (already in the transition log, with nobody waiting for their commit)
/// do not each wake the thread: the first one queued does, and the thread then waits
/// until their writers pause (``LoggedPacing/quiet``), the oldest has waited
/// ``LoggedPacing/longest``, ``LoggedPacing/batches`` of them are queued, or any other job
/// arrives. A burst of transitions thus costs the writers one wake-up and commits as one
/// group after the burst, instead of waking the thread for each and competing with the
/// burst for the CPUs. A read or a caller's write queued behind them takes them along at
/// once, so nobody waits longer for their commit than before.
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

    /// When the database thread takes logged batches that nothing else is queued with.
    struct LoggedPacing: Sendable {
        /// Taken once no logged batch has been queued for this long: the writers paused.
        var quiet: Duration = .milliseconds(1)
        /// Taken once the oldest has waited this long, however busy the writers are.
        var longest: Duration = .milliseconds(10)
        /// Taken once this many are queued.
        var batches = 256
    }

    /// The logged batches queued since the thread last took its jobs.
    private struct LoggedBacklog {
        var count = 0
        /// When the first and the last of them were queued, on the monotonic clock.
        var oldest: UInt64 = 0
        var newest: UInt64 = 0
    }

    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var jobs: [DatabaseJob] = []
    private var state = State.open
    private var claimed = false
    private let pacing: LoggedPacing
    private var logged = LoggedBacklog()
    /// Whether a job other than a logged batch is queued.
    private var urgent = false
    /// Whether a logged batch queued since the last ``wakeIfDue()`` needs the thread woken.
    private var wakeDue = false

    init(pacing: LoggedPacing = LoggedPacing()) {
        self.pacing = pacing
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        defer { pthread_condattr_destroy(&attributes) }
        // Deadlines of logged batches are on the monotonic clock, which no clock change moves.
        let clockResult = pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        let mutexResult = pthread_mutex_init(mutex, nil)
        let conditionResult = pthread_cond_init(condition, &attributes)
        // These fail only when the system is out of memory.
        precondition(
            clockResult == 0 && mutexResult == 0 && conditionResult == 0,
            "store: pthread_mutex_init or pthread_cond_init failed")
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
        if accepted { pthread_cond_signal(condition) }
        return accepted
    }

    /// Queues a read or write without waking the database thread.
    private func enqueue(_ job: DatabaseJob) -> Bool {
        withLock {
            guard case .open = state else { return false }
            jobs.append(job)
            urgent = true
            return true
        }
    }

    /// Queues a logged batch without waking the database thread, for a caller that holds
    /// the transition log's lock and calls ``wakeIfDue()`` once it has let go.
    func enqueueLogged(_ job: DatabaseJob) -> Bool {
        withLock {
            guard case .open = state else { return false }
            let now = Self.monotonicNanoseconds()
            if jobs.isEmpty {
                // The thread may be waiting with no deadline: it is woken to keep one.
                logged.oldest = now
                wakeDue = true
            }
            jobs.append(job)
            logged.count += 1
            logged.newest = now
            if logged.count == pacing.batches { wakeDue = true }
            return true
        }
    }

    /// Wakes the database thread if a logged batch queued since the last call needs it.
    func wakeIfDue() {
        let due = withLock {
            defer { wakeDue = false }
            return wakeDue
        }
        if due { pthread_cond_signal(condition) }
    }

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

    /// For the database thread: waits until jobs are due (any job but a logged batch at
    /// once, logged batches as ``LoggedPacing`` says) and the connection is free, claims
    /// it, and takes every job, in the order they were queued.
    func takeAll() -> [DatabaseJob] {
        withLock {
            while true {
                if jobs.isEmpty || claimed {
                    pthread_cond_wait(condition, mutex)
                    continue
                }
                guard let due = loggedDueLocked() else { break }
                var deadline = timespec(
                    tv_sec: Int(due / 1_000_000_000), tv_nsec: Int(due % 1_000_000_000))
                pthread_cond_timedwait(condition, mutex, &deadline)
            }
            claimed = true
            return takeLocked()
        }
    }

    /// When the logged batches queued, if they are all that is queued, are due, on the
    /// monotonic clock; nil when the jobs queued are to be taken now.
    private func loggedDueLocked() -> UInt64? {
        guard case .open = state, !urgent, logged.count == jobs.count, logged.count < pacing.batches else {
            return nil
        }
        let due = min(logged.oldest + Self.nanoseconds(pacing.longest), logged.newest + Self.nanoseconds(pacing.quiet))
        return Self.monotonicNanoseconds() < due ? due : nil
    }

    /// For the database thread, which keeps its claim: takes every job queued, if any,
    /// without waiting.
    func takeQueued() -> [DatabaseJob] {
        withLock { takeLocked() }
    }

    /// Marks the thread exited and returns the closes queued since it last took jobs.
    func finish() -> [DatabaseJob] {
        withLock {
            state = .finished
            return takeLocked()
        }
    }

    private func takeLocked() -> [DatabaseJob] {
        let taken = jobs
        jobs = []
        urgent = false
        logged = LoggedBacklog()
        return taken
    }

    private static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
