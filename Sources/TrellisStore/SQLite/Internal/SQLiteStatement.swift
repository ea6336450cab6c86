import CSQLite

/// A prepared statement of a ``SQLiteConnection``, reused across calls.
///
/// Confined to the connection's thread. Between uses it is reset with its bindings cleared.
final class SQLiteStatement {
    private var handle: OpaquePointer?
    private unowned let connection: SQLiteConnection

    init(handle: OpaquePointer, connection: SQLiteConnection) {
        self.handle = handle
        self.connection = connection
    }

    private var statement: OpaquePointer {
        guard let handle else { preconditionFailure("store: statement used after finalize") }
        return handle
    }

    func finalize() {
        sqlite3_finalize(handle)
        handle = nil
    }

    /// Binds values to parameters 1, 2, ...
    func bind(_ values: [SQLiteValue], operation: String) throws(StoreError) {
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let result: Int32
            switch value {
            case .integer(let number):
                result = sqlite3_bind_int64(statement, index, number)
            case .text(let text):
                result = text.withCString { trellis_sqlite3_bind_text(statement, index, $0, Int32(text.utf8.count)) }
            case .null:
                result = sqlite3_bind_null(statement, index)
            }
            guard result == SQLITE_OK else { throw connection.error("sqlite3_bind", result, operation: operation) }
        }
    }

    /// Advances to the next row; returns `false` when the statement is done.
    func step(operation: String) throws(StoreError) -> Bool {
        let result = sqlite3_step(statement)
        switch result {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw connection.error("sqlite3_step", result, operation: operation)
        }
    }

    /// Makes the statement ready for its next use. Errors are not checked here: a failed
    /// step already reported its error, and reset repeats it.
    func reset() {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    // Column readers of the current row; indexes count from 0.

    func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(statement, column)
    }

    func optionalInt64(_ column: Int32) -> Int64? {
        sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : int64(column)
    }

    func bool(_ column: Int32) -> Bool {
        int64(column) != 0
    }

    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(statement, column) else { return "" }
        let count = Int(sqlite3_column_bytes(statement, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    func optionalText(_ column: Int32) -> String? {
        sqlite3_column_type(statement, column) == SQLITE_NULL ? nil : text(column)
    }
}
