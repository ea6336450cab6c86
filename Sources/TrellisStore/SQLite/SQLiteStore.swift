import TrellisLogging

#if canImport(Glibc)
import Glibc
#endif

/// The embedded ``StateStore``: one SQLite file, by default `state.db` in the data directory.
///
/// Durability: the database runs in WAL mode. A ``StoreDurability/flushed`` batch (the
/// default) returns only after its transaction is in the write-ahead log on disk
/// (`synchronous=FULL`), so it survives a crash of the process and of the machine; a
/// ``StoreDurability/written`` batch returns once the operating system has it
/// (`synchronous=NORMAL`), which survives the process being killed.
///
/// Threading: SQLite calls run on one dedicated thread, so no caller waits for the disk on
/// the cooperative pool. Writes are group-committed: batches that arrive while a commit is
/// in progress share the next transaction and its fsync. A write that needs no fsync and
/// finds the connection idle commits on the caller's thread instead.
///
/// The transition log: a ``StoreDurability/logged`` batch (a resource's transition) is
/// written as one record to `state.db-transitions` and acknowledged, then applied by the
/// database thread in a later group commit, which records how far the log is applied. A
/// store that opens replays the records the database lacks, so a killed process loses
/// no acknowledged transition, and reads always see every logged batch: they queue
/// behind them on the database thread.
///
/// Lifecycle: ``open(directory:logger:)`` migrates the schema and starts the thread;
/// ``close()`` finishes the queued work and closes the file. A store that is released
/// without ``close()`` closes itself once its queued work is done.
public final class SQLiteStore: StateStore {
    /// The name of the database file inside a data directory.
    public static let fileName = "state.db"

    /// How long a statement waits for a lock held by another connection before it fails
    /// with ``StoreError/Code/busy``. Only tools (a backup, `sqlite3`) open the file beside
    /// the coordinator, so the wait is short in practice.
    public static let busyTimeoutMilliseconds: Int32 = 5000

    /// The database file.
    public let path: String
    private let queue: DatabaseJobQueue
    private let worker: DatabaseWorker
    private let log: TransitionLog?
    private let recorder: StatisticsRecorder

    /// The size the transition log is preallocated to, with `preallocatingLog`.
    public static let preallocatedTransitionLogBytes = 1 << 20

    private init(
        path: String, queue: DatabaseJobQueue, worker: DatabaseWorker, log: TransitionLog?,
        recorder: StatisticsRecorder
    ) {
        self.path = path
        self.queue = queue
        self.worker = worker
        self.log = log
        self.recorder = recorder
    }

    deinit {
        _ = queue.submitClose(nil)
    }

    /// Opens `DIRECTORY/state.db`, creating the directory and the file when missing.
    ///
    /// Transitions logged before the last process ended and not yet in the database are
    /// applied first (a warning names any damaged record, where reading stopped).
    ///
    /// With `preallocatingLog`, the write-ahead log is written out to its checkpoint size
    /// (``preallocatedLogBytes(pageSize:)``, about 16 MiB of zeros, flushed) before the
    /// store is handed out, as a database that writes its log in place would keep it:
    /// commits then overwrite blocks and cached pages the file already has instead of
    /// growing it, which on ext4 takes about a third of a small commit's time (reserving
    /// blocks, adding pages to the cache). It costs the disk space and tens of milliseconds
    /// at open; the coordinator does it, tools and tests need not. Failing to preallocate
    /// is logged and changes nothing else. The transition log is then written out to
    /// ``preallocatedTransitionLogBytes`` too.
    ///
    /// Throws ``StoreError`` with code ``StoreError/Code/notADatabase`` or
    /// ``StoreError/Code/corrupt`` for a file that is not a healthy SQLite database,
    /// ``StoreError/Code/schemaTooNew`` for one written by a newer Trellis, and
    /// ``StoreError/Code/migration`` when the schema cannot be brought up to date.
    public static func open(
        directory: String, preallocatingLog: Bool = false, logger: Logger = Logger(label: "store")
    ) async throws -> SQLiteStore {
        try makeDirectories(directory)
        return try await open(path: directory + "/" + fileName, preallocatingLog: preallocatingLog, logger: logger)
    }

    /// Opens the database file at `path`, creating it when missing. Errors are those of
    /// ``open(directory:preallocatingLog:logger:)``.
    public static func open(
        path: String, preallocatingLog: Bool = false, logger: Logger = Logger(label: "store")
    ) async throws -> SQLiteStore {
        try await open(path: path, migrations: Schema.migrations, preallocatingLog: preallocatingLog, logger: logger)
    }

    /// The size the write-ahead log is preallocated to: its header and the frames (a page
    /// and a frame header each) at which the store checkpoints, ``DatabaseWorker/checkpointFrames``.
    public static func preallocatedLogBytes(pageSize: Int) -> Int {
        32 + DatabaseWorker.checkpointFrames * (pageSize + 24)
    }

    /// Opens with a given list of migrations; tests use it to build older and newer schemas.
    static func open(
        path: String, migrations: [Migration], preallocatingLog: Bool = false,
        logger: Logger = Logger(label: "store")
    ) async throws -> SQLiteStore {
        let queue = DatabaseJobQueue()
        let recorder = StatisticsRecorder()
        let logger = logger.with("store.path", path)
        let (worker, log) = try await withCheckedThrowingContinuation {
            (opened: CheckedContinuation<(DatabaseWorker, TransitionLog?), any Error>) in
            do throws(StoreError) {
                try DatabaseThread.start {
                    let connection: SQLiteConnection
                    let log: TransitionLog?
                    do throws(StoreError) {
                        connection = try SQLiteConnection(path: path)
                        try configure(connection)
                        let applied = try connection.migrate(migrations)
                        log = try openTransitionLog(connection, preallocating: preallocatingLog, logger: logger)
                        if preallocatingLog { preallocateLog(connection, logger: logger) }
                        logger.debug(
                            "store opened",
                            [
                                "store.schema_version": String(migrations.last?.version ?? 0),
                                "store.migrations_applied": applied.map(String.init).joined(separator: ","),
                            ])
                    } catch {
                        _ = queue.finish()
                        opened.resume(throwing: error)
                        return
                    }
                    let worker = DatabaseWorker(
                        connection: connection, log: log, queue: queue, statistics: recorder, logger: logger)
                    opened.resume(returning: (worker, log))
                    worker.run()
                }
            } catch {
                opened.resume(throwing: error)
            }
        }
        return SQLiteStore(path: path, queue: queue, worker: worker, log: log, recorder: recorder)
    }

    /// Applies what the transition log holds beyond the database's last applied batch,
    /// then opens the log emptied for this run; nil for a schema without the log (a test's
    /// older migrations), whose logged batches are then written like any other.
    private static func openTransitionLog(
        _ connection: SQLiteConnection, preallocating: Bool, logger: Logger
    ) throws(StoreError) -> TransitionLog? {
        let hasLog = try connection.queryFirst(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'transition_log'",
            operation: "look for the transition log's table"
        ) { $0.int64(0) }
        guard hasLog == 1 else { return nil }
        let stored = try connection.queryFirst(
            "SELECT applied FROM transition_log WHERE id = 1", operation: "read the transition log's position"
        ) { $0.int64(0) }
        var applied = UInt64(max(stored ?? 0, 0))
        let logPath = TransitionLog.path(forDatabase: connection.path)
        let (batches, damaged) = try TransitionLog.recover(logPath, applied: applied)
        if let damaged {
            logger.warning(
                "store transition log read up to a damaged record; what follows it was never acknowledged",
                ["store.log": logPath, "reason": damaged])
        }
        if let last = batches.last?.sequence {
            try connection.replay(batches, through: last, logger: logger)
            applied = last
            logger.info(
                "store applied logged transitions left by the last run",
                ["store.logged_batches": String(batches.count), "store.log_sequence": String(last)])
        }
        return try TransitionLog(
            databasePath: connection.path, applied: applied,
            preallocatedBytes: preallocating ? preallocatedTransitionLogBytes : nil)
    }

    /// Sets the connection up: locks, WAL, durable commits, foreign keys. Reading the
    /// journal mode is also the first read of the file, where a file that is not a
    /// database is found.
    ///
    /// The connection holds the file exclusively (`locking_mode = EXCLUSIVE`) from the
    /// moment it opens until it closes: the coordinator owns its state, so a second
    /// `trellisd` on the same data directory fails here instead of running the same
    /// environments, and a transaction takes no file locks of its own (in WAL mode the
    /// write-ahead log's index then lives in the process's memory, not in a `-shm` file).
    private static func configure(_ connection: SQLiteConnection) throws(StoreError) {
        let prefix = "open \(connection.path)"
        do throws(StoreError) {
            try connection.execute(
                "PRAGMA busy_timeout = \(busyTimeoutMilliseconds)", operation: "\(prefix): set busy timeout")
            _ = try connection.queryFirst(
                "PRAGMA locking_mode = EXCLUSIVE", operation: "\(prefix): set exclusive locking"
            ) { $0.text(0) }
            let mode = try connection.queryFirst(
                "PRAGMA journal_mode = WAL", operation: "\(prefix): set WAL journal mode"
            ) { $0.text(0) }
            guard mode?.lowercased() == "wal" else {
                throw StoreError(
                    code: .open, message: "store: \(prefix): journal mode is \(mode ?? "unknown"), WAL is required")
            }
            // An empty write transaction takes the write lock, which is then kept.
            try connection.execute("BEGIN IMMEDIATE", operation: "\(prefix): lock the database")
            try connection.execute("COMMIT", operation: "\(prefix): lock the database")
        } catch  where error.code == .busy {
            throw StoreError(
                code: .busy,
                message:
                    "store: \(connection.path) is in use by another process (another trellisd on this data "
                    + "directory?): \(error.message)", sqliteCode: error.sqliteCode)
        }
        try connection.execute("PRAGMA synchronous = FULL", operation: "\(prefix): set synchronous")
        try connection.execute("PRAGMA foreign_keys = ON", operation: "\(prefix): enable foreign keys")
        let foreignKeys = try connection.queryFirst(
            "PRAGMA foreign_keys", operation: "\(prefix): check foreign keys"
        ) { $0.int64(0) }
        guard foreignKeys == 1 else {
            throw StoreError(code: .open, message: "store: \(prefix): this SQLite does not enforce foreign keys")
        }
    }

    /// Extends the connection's write-ahead log with zeros to ``preallocatedLogBytes(pageSize:)``
    /// and flushes it. Only bytes past the log's end are written, so frames a crash left
    /// there stay as they are; SQLite reads a log up to its first frame that does not check
    /// out, which zeros never do, and a log that starts over after a checkpoint keeps its
    /// size. A missing log (SQLite has not opened one yet) is left to SQLite.
    private static func preallocateLog(_ connection: SQLiteConnection, logger: Logger) {
        let logPath = connection.path + "-wal"
        do throws(StoreError) {
            let pageSize = try connection.queryFirst("PRAGMA page_size", operation: "read page size") { $0.int64(0) }
            let target = preallocatedLogBytes(pageSize: Int(pageSize ?? 4096))
            let start = ContinuousClock.now
            guard let written = try extendWithZeros(logPath, to: target) else { return }
            logger.debug(
                "store log preallocated",
                [
                    "store.log_bytes": String(target), "store.bytes_written": String(written),
                    "duration_ms": String((ContinuousClock.now - start) / .milliseconds(1)),
                ])
        } catch {
            logger.warning(
                "store log not preallocated; commits will grow it as they go",
                ["store.log": logPath, "error": error.message])
        }
    }

    /// Where the transition log's next record goes, nil without a log: for tests.
    var transitionLogOffset: Int? { log?.writtenBytes }

    /// Runs `body` on the database thread, between its commits: for tests that need the
    /// connection itself (to make the database full, say).
    func withConnection(_ body: @escaping @Sendable (SQLiteConnection) throws -> Void) async throws {
        try await read(body)
    }

    /// Counters of the commits so far.
    public var statistics: SQLiteStoreStatistics { recorder.current }

    private var closedError: StoreError {
        StoreError(code: .closed, message: "store: \(path) is closed")
    }

    @discardableResult
    public func write(_ batch: StoreBatch) async throws -> StoreWriteResult {
        if batch.isEmpty { return StoreWriteResult(outcomes: []) }
        if batch.durability == .logged, let log, batch.mutations.allSatisfy(TransitionCoding.isLoggable) {
            try log.append(batch.mutations, refusal: closedError) { sequence in
                queue.enqueueLogged(.write(PendingWrite(batch: batch, owner: .log(sequence: sequence))))
            }
            queue.wakeIfDue()
            recorder.record { $0.loggedBatches += 1 }
            return StoreWriteResult(outcomes: Array(repeating: .applied, count: batch.mutations.count))
        }
        // A write that needs no fsync, finding the connection idle and nothing queued,
        // commits right here: tens of microseconds of work, without the two thread
        // hand-offs (to the database thread and back) that would cost as much again.
        // Writes that must be flushed wait for the disk, so they go to the database thread.
        if batch.durability != .flushed, queue.claimIfIdle() {
            defer { queue.release() }
            return try worker.commitNow(batch).get()
        }
        return try await withCheckedThrowingContinuation { continuation in
            if !queue.submit(.write(PendingWrite(batch: batch, owner: .caller(continuation)))) {
                continuation.resume(throwing: closedError)
            }
        }
    }

    public func close() async {
        await withCheckedContinuation { continuation in
            if !queue.submitClose(continuation) { continuation.resume() }
        }
    }

    /// Runs `body` on the database thread and returns its result.
    private func read<Value: Sendable>(
        _ body: @escaping @Sendable (SQLiteConnection) throws -> Value
    ) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let job = DatabaseJob.read { connection in
                continuation.resume(with: Result { try body(connection) })
            }
            if !queue.submit(job) { continuation.resume(throwing: closedError) }
        }
    }
}

extension SQLiteStore {
    public func document(kind: String, name: String, version: Int64?) async throws -> CatalogDocument? {
        try await read { try $0.document(kind: kind, name: name, version: version) }
    }

    public func documents(kind: String?, allVersions: Bool) async throws -> [CatalogDocument] {
        try await read { try $0.documents(kind: kind, allVersions: allVersions) }
    }

    public func environment(named name: String) async throws -> EnvironmentRecord? {
        try await read { try $0.environment(named: name) }
    }

    public func environments(matching filter: EnvironmentFilter) async throws -> [EnvironmentRecord] {
        try await read { try $0.environments(matching: filter) }
    }

    public func expiredEnvironments(now: Int64) async throws -> [EnvironmentRecord] {
        try await read { try $0.expiredEnvironments(now: now) }
    }

    public func resources(inEnvironment environment: String) async throws -> [ResourceRecord] {
        try await read { try $0.resources(inEnvironment: environment) }
    }

    public func resource(inEnvironment environment: String, named name: String) async throws -> ResourceRecord? {
        try await read { try $0.resource(inEnvironment: environment, named: name) }
    }

    public func resources(onAgent agent: String) async throws -> [ResourceRecord] {
        try await read { try $0.resources(onAgent: agent) }
    }

    public func agent(named name: String) async throws -> AgentRecord? {
        try await read { try $0.agent(named: name) }
    }

    public func agents() async throws -> [AgentRecord] {
        try await read { try $0.agents() }
    }

    public func joinToken(id: String) async throws -> JoinTokenRecord? {
        try await read { try $0.joinToken(id: id) }
    }

    public func journal(ofEnvironment environment: String, after sequence: Int64?) async throws -> [JournalEntry] {
        try await read { try $0.journal(ofEnvironment: environment, after: sequence) }
    }

    public func unfinishedWork(ofEnvironment environment: String) async throws -> [UnfinishedWork] {
        try await read { try $0.unfinishedWork(ofEnvironment: environment) }
    }

    public func environmentsWithUnfinishedWork() async throws -> [String] {
        try await read { try $0.environmentsWithUnfinishedWork() }
    }
}

/// Writes zeros from the end of the file at `path` up to `size` bytes and flushes it;
/// returns how many bytes were written, or `nil` when there is no such file.
func extendWithZeros(_ path: String, to size: Int) throws(StoreError) -> Int? {
    func failure(_ call: String) -> StoreError {
        let code = errno
        return StoreError(
            code: .io, message: "store: \(call) \(path): \(String(cString: strerror(code))) (errno \(code))")
    }
    let descriptor = Glibc.open(path, O_WRONLY | O_CLOEXEC)
    if descriptor < 0 {
        if errno == ENOENT { return nil }
        throw failure("open")
    }
    defer { close(descriptor) }
    let end = Int(lseek(descriptor, 0, SEEK_END))
    guard end >= 0 else { throw failure("lseek") }
    guard end < size else { return 0 }
    let chunk = [UInt8](repeating: 0, count: 1 << 20)
    var offset = end
    while offset < size {
        let count = min(chunk.count, size - offset)
        let written = chunk.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, count, off_t(offset)) }
        if written < 0 {
            if errno == EINTR { continue }
            throw failure("pwrite")
        }
        offset += written
    }
    guard fsync(descriptor) == 0 else { throw failure("fsync") }
    return size - end
}

/// Creates `path` and its missing parents, like `mkdir -p`.
private func makeDirectories(_ path: String) throws(StoreError) {
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
        prefix += component
        if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
            let code = errno
            throw StoreError(
                code: .io,
                message: "store: create data directory \(path): mkdir \(prefix): \(String(cString: strerror(code))) "
                    + "(errno \(code))")
        }
        prefix += "/"
    }
}
