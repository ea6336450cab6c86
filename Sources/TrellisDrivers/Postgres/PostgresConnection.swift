import CLibPQ
import Glibc

/// A failure reported by libpq or the server, before it is worded for a resource.
struct PostgresFailure: Error {
    /// libpq's or the server's message, one line, without statement text.
    var message: String
    /// The server's SQLSTATE, when the server answered.
    var sqlState: String?
    var retryable: Bool
}

/// One blocking libpq connection, used by one thread from connect to close.
///
/// Not Sendable: a `PGconn` must not be used from two threads at once, and each driver
/// operation opens, uses and closes its connections on the thread it runs on.
final class PostgresConnection {
    /// How long connecting may take; libpq applies it to each address it tries.
    static let connectTimeoutSeconds = 10

    private let handle: OpaquePointer

    private init(_ handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        PQfinish(handle)
    }

    /// Connects to `database` on `server` as `user`.
    ///
    /// A server that does not answer (refused, unreachable, timed out, starting up or
    /// shutting down) is retryable; one that answers and refuses (authentication, a
    /// missing database) is not. libpq does not say which happened, so a failed connect
    /// is followed by `PQpingParams`, which does.
    static func connect(
        to server: PostgresServerAddress, database: String, user: String, password: String?
    ) throws(PostgresFailure) -> PostgresConnection {
        var parameters: [(String, String)] = [
            ("host", server.host), ("port", String(server.port)), ("dbname", database), ("user", user),
            ("connect_timeout", String(connectTimeoutSeconds)), ("application_name", "trellis"),
            ("client_encoding", "UTF8"),
        ]
        if let password { parameters.append(("password", password)) }

        guard let handle = withConnectionParameters(parameters, { PQconnectdbParams($0, $1, 0) }) else {
            throw PostgresFailure(message: "PQconnectdbParams: out of memory", sqlState: nil, retryable: true)
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Self.oneLine(PQerrorMessage(handle))
            PQfinish(handle)
            let ping = withConnectionParameters(parameters) { PQpingParams($0, $1, 0) }
            throw PostgresFailure(
                message: message, sqlState: nil, retryable: ping == PQPING_NO_RESPONSE || ping == PQPING_REJECT)
        }
        // libpq prints the server's notices (`relation ... already exists, skipping`) on
        // stderr by default; they are not the agent's to print.
        _ = PQsetNoticeProcessor(handle, { _, _ in }, nil)
        return PostgresConnection(handle)
    }

    private static func withConnectionParameters<R>(
        _ parameters: [(String, String)],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>, UnsafePointer<UnsafePointer<CChar>?>) -> R
    ) -> R {
        let keywords: [UnsafePointer<CChar>?] = parameters.map { UnsafePointer(strdup($0.0)) } + [nil]
        let values: [UnsafePointer<CChar>?] = parameters.map { UnsafePointer(strdup($0.1)) } + [nil]
        defer {
            keywords.forEach { free(UnsafeMutablePointer(mutating: $0)) }
            values.forEach { free(UnsafeMutablePointer(mutating: $0)) }
        }
        return keywords.withUnsafeBufferPointer { keys in
            values.withUnsafeBufferPointer { body(keys.baseAddress!, $0.baseAddress!) }
        }
    }

    /// Runs `sql`, which may hold several statements (the simple query protocol), and
    /// returns the rows of the last.
    @discardableResult
    func execute(_ sql: String) throws(PostgresFailure) -> [[String?]] {
        try rows(of: PQexec(handle, sql))
    }

    /// Runs one statement with text parameters `$1`, `$2`...: values never enter the SQL.
    @discardableResult
    func execute(_ sql: String, _ parameters: [String]) throws(PostgresFailure) -> [[String?]] {
        let copies: [UnsafePointer<CChar>?] = parameters.map { UnsafePointer(strdup($0)) }
        defer { copies.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        let result = copies.withUnsafeBufferPointer { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values.baseAddress, nil, nil, 0)
        }
        return try rows(of: result)
    }

    /// Whether a transaction is open (and has not failed).
    var inTransaction: Bool { PQtransactionStatus(handle) == PQTRANS_INTRANS }

    /// `text` as an SQL identifier, double-quoted and escaped (`PQescapeIdentifier`).
    func identifier(_ text: String) throws(PostgresFailure) -> String {
        try escaped(PQescapeIdentifier(handle, text, text.utf8.count), "PQescapeIdentifier")
    }

    /// `text` as an SQL string literal, quoted and escaped (`PQescapeLiteral`).
    func literal(_ text: String) throws(PostgresFailure) -> String {
        try escaped(PQescapeLiteral(handle, text, text.utf8.count), "PQescapeLiteral")
    }

    /// The verifier the server stores for `password` of `role`, computed here with the
    /// server's `password_encryption` (`PQencryptPasswordConn`), so that the password
    /// itself never reaches the server, its logs or its statistics.
    func encryptedPassword(_ password: String, role: String) throws(PostgresFailure) -> String {
        try escaped(PQencryptPasswordConn(handle, password, role, nil), "PQencryptPasswordConn")
    }

    private func escaped(_ pointer: UnsafeMutablePointer<CChar>?, _ function: String) throws(PostgresFailure) -> String
    {
        guard let pointer else {
            throw PostgresFailure(
                message: "\(function): \(Self.oneLine(PQerrorMessage(handle)))", sqlState: nil, retryable: false)
        }
        defer { PQfreemem(pointer) }
        return String(cString: pointer)
    }

    private func rows(of result: OpaquePointer?) throws(PostgresFailure) -> [[String?]] {
        guard let result else {
            throw PostgresFailure(
                message: Self.oneLine(PQerrorMessage(handle)), sqlState: nil,
                retryable: PQstatus(handle) != CONNECTION_OK)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return []
        case PGRES_TUPLES_OK:
            var rows: [[String?]] = []
            for row in 0..<PQntuples(result) {
                rows.append(
                    (0..<PQnfields(result)).map { column in
                        PQgetisnull(result, row, column) != 0 ? nil : String(cString: PQgetvalue(result, row, column))
                    })
            }
            return rows
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            throw PostgresFailure(
                message: "COPY to or from the client is not supported", sqlState: nil, retryable: false)
        default:
            throw failure(of: result)
        }
    }

    /// The server's error: its primary message alone, since the full message may quote
    /// the statement (and a statement may hold a password verifier).
    private func failure(of result: OpaquePointer) -> PostgresFailure {
        let state = trellis_pq_sqlstate(result).map { String(cString: $0) }
        let message =
            trellis_pq_primary_message(result).map { Self.oneLine($0) } ?? Self.oneLine(PQerrorMessage(handle))
        return PostgresFailure(
            message: message, sqlState: state,
            retryable: PQstatus(handle) != CONNECTION_OK || state.map(Self.isTransient) == true)
    }

    /// SQLSTATEs after which the same statement may succeed: connection exceptions (08),
    /// serialization failures and deadlocks, too many connections, an object in use (a
    /// session that reconnected to a database being dropped), and a server shutting down
    /// or starting up.
    private static func isTransient(_ state: String) -> Bool {
        state.hasPrefix("08") || ["40001", "40P01", "53300", "55006", "57P01", "57P02", "57P03"].contains(state)
    }

    /// libpq's messages end in a newline and may span lines; errors here are one line.
    private static func oneLine(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "unknown error" }
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(cString: text).split(whereSeparator: \.isNewline)
            .map { String($0.drop(while: blank).reversed().drop(while: blank).reversed()) }
            .filter { !$0.isEmpty }
            .joined(separator: "; ")
    }
}
