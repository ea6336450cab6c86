import CSQLite

/// A value bound to a statement parameter.
enum SQLiteValue {
    case integer(Int64)
    case text(String)
    case null

    static func optional(_ value: Int64?) -> SQLiteValue { value.map(SQLiteValue.integer) ?? .null }
    static func optional(_ value: String?) -> SQLiteValue { value.map(SQLiteValue.text) ?? .null }
    static func bool(_ value: Bool) -> SQLiteValue { .integer(value ? 1 : 0) }
}

/// One SQLite connection and its prepared statements.
///
/// Not thread-safe: one thread at a time uses it (the store hands it out under a claim,
/// see ``DatabaseJobQueue``).
final class SQLiteConnection {
    /// Frames in the write-ahead log after the latest commit, as SQLite's WAL hook reports.
    private final class WALFrames {
        var count = 0
    }

    let path: String
    private var handle: OpaquePointer?
    /// Prepared statements by SQL text, prepared on first use and kept until close.
    private var statements: [StatementKey: SQLiteStatement] = [:]
    private let walFrames = WALFrames()

    /// Opens (creating if needed) the database file at `path`.
    init(path: String) throws(StoreError) {
        self.path = path
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let result = sqlite3_open_v2(path, &handle, flags, nil)
        guard result == SQLITE_OK, let handle else {
            let reason = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(handle)
            throw StoreError(
                code: Self.code(for: result, default: .open),
                message: "store: open \(path): sqlite3_open_v2: \(reason) (sqlite \(result))", sqliteCode: result)
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
    }

    deinit {
        close()
    }

    /// Replaces SQLite's automatic checkpoint, which runs inside whichever COMMIT crosses
    /// the threshold, with a count of the log's frames: the owner checkpoints when it
    /// chooses (``checkpoint()``), on a thread where waiting for the disk is harmless.
    func trackWALFrames() {
        let frames = Unmanaged.passUnretained(walFrames).toOpaque()
        sqlite3_wal_hook(
            db,
            { context, _, _, count in
                Unmanaged<WALFrames>.fromOpaque(context!).takeUnretainedValue().count = Int(count)
                return SQLITE_OK
            }, frames)
    }

    /// Frames in the write-ahead log since it last started over.
    var framesInWAL: Int { walFrames.count }

    /// Copies the write-ahead log into the database file (a passive checkpoint: this is the
    /// only connection, so it copies everything) and fsyncs it; the next commit starts the
    /// log over.
    func checkpoint() throws(StoreError) {
        var logFrames: Int32 = 0
        var copied: Int32 = 0
        let result = sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, &logFrames, &copied)
        guard result == SQLITE_OK else { throw error("sqlite3_wal_checkpoint_v2", result, operation: "checkpoint") }
        walFrames.count = 0
    }

    /// Finalises every statement and closes the connection; later use traps.
    func close() {
        for statement in statements.values { statement.finalize() }
        statements = [:]
        if let handle {
            // sqlite3_close_v2 defers the close if something is still open; nothing is.
            sqlite3_close_v2(handle)
        }
        handle = nil
    }

    private var db: OpaquePointer {
        guard let handle else { preconditionFailure("store: connection to \(path) used after close") }
        return handle
    }

    /// Whether a transaction is open; SQLite rolls one back by itself after some failures.
    var isInTransaction: Bool { sqlite3_get_autocommit(db) == 0 }

    /// Rows changed by the latest INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(db)) }

    /// Runs SQL text of one or more statements without parameters or results.
    func execute(_ sql: String, operation: String) throws(StoreError) {
        let result = sqlite3_exec(db, sql, nil, nil, nil)
        guard result == SQLITE_OK else { throw error("sqlite3_exec", result, operation: operation) }
    }

    /// The prepared statement for `sql`, from the cache when it was prepared before.
    func statement(_ sql: String, operation: String) throws(StoreError) -> SQLiteStatement {
        if let cached = statements[StatementKey(sql)] { return cached }
        var prepared: OpaquePointer?
        let result = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil)
        guard result == SQLITE_OK, let prepared else {
            throw error("sqlite3_prepare_v3", result, operation: operation)
        }
        let statement = SQLiteStatement(handle: prepared, connection: self)
        statements[StatementKey(sql)] = statement
        return statement
    }

    /// Runs a statement that returns no rows; returns the number of rows it changed.
    @discardableResult
    func run(_ sql: String, operation: String, _ values: [SQLiteValue] = []) throws(StoreError) -> Int {
        let statement = try statement(sql, operation: operation)
        defer { statement.reset() }
        try statement.bind(values, operation: operation)
        while try statement.step(operation: operation) {}
        return changes
    }

    /// Runs a query and maps each row.
    func query<Row>(
        _ sql: String, operation: String, _ values: [SQLiteValue] = [],
        row: (SQLiteStatement) throws(StoreError) -> Row
    ) throws(StoreError) -> [Row] {
        let statement = try statement(sql, operation: operation)
        defer { statement.reset() }
        try statement.bind(values, operation: operation)
        var rows: [Row] = []
        while try statement.step(operation: operation) {
            rows.append(try row(statement))
        }
        return rows
    }

    /// The first row of a query, or `nil`.
    func queryFirst<Row>(
        _ sql: String, operation: String, _ values: [SQLiteValue] = [],
        row: (SQLiteStatement) throws(StoreError) -> Row
    ) throws(StoreError) -> Row? {
        let statement = try statement(sql, operation: operation)
        defer { statement.reset() }
        try statement.bind(values, operation: operation)
        guard try statement.step(operation: operation) else { return nil }
        return try row(statement)
    }

    /// A ``StoreError`` for a failed call, with the connection's current error message.
    func error(_ function: String, _ result: Int32, operation: String) -> StoreError {
        let reason = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(result))
        return StoreError(
            code: Self.code(for: result, default: .database),
            message: "store: \(operation): \(function): \(reason) (sqlite \(result))", sqliteCode: result)
    }

    /// The error code for an SQLite result code, by its primary code.
    static func code(for result: Int32, default fallback: StoreError.Code) -> StoreError.Code {
        switch result & 0xff {
        case SQLITE_NOTADB: .notADatabase
        case SQLITE_CORRUPT: .corrupt
        case SQLITE_CONSTRAINT: .constraint
        case SQLITE_BUSY, SQLITE_LOCKED: .busy
        case SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_READONLY, SQLITE_PERM: .io
        default: fallback
        }
    }
}

/// SQL text as a statement cache's key, hashed by its length and its ends rather than all
/// of it: statements are hundreds of bytes long, and a commit looks several up. Equal keys
/// still compare the whole text.
struct StatementKey: Hashable {
    let sql: String

    init(_ sql: String) { self.sql = sql }

    func hash(into hasher: inout Hasher) {
        let utf8 = sql.utf8
        hasher.combine(utf8.count)
        let hashed: Void? = utf8.withContiguousStorageIfAvailable { bytes in
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes.prefix(32))))
            hasher.combine(bytes: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes.suffix(32))))
        }
        if hashed == nil { hasher.combine(sql) }
    }
}
