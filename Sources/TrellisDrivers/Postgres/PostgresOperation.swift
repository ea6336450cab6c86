import TrellisDomain

/// One apply, observe or delete of one resource: its parsed params and the wording of its
/// errors. The steps run on a thread of their own (`PostgresThread`) and block.
struct PostgresOperation: Sendable {
    let spec: PostgresDatabaseSpec
    let resource: String
    let environmentDirectory: String?
    /// Passwords known to this operation, kept out of every message it produces.
    var secrets: [String]

    init(_ request: DriverRequest) throws(DriverError) {
        spec = try PostgresDatabaseSpec(request.params, resource: request.resource)
        resource = request.resource
        environmentDirectory = request.environmentDirectory
        secrets = [spec.server.adminPassword, request.applied?.values["password"]?.stringValue].compactMap { $0 }
    }

    /// The prefix of every message: `postgres-database: RESOURCE`.
    var prefix: String { "\(PostgresDatabaseSpec.driver): \(resource)" }

    /// A failure of this resource, worded `postgres-database: RESOURCE: MESSAGE`.
    func error(_ message: String, retryable: Bool = false) -> DriverError {
        var text = "\(prefix): \(message)"
        for secret in secrets where !secret.isEmpty {
            text = text.replacing(secret, with: "[redacted]")
        }
        return DriverError(text, retryable: retryable)
    }

    /// Runs `body`, wording a PostgreSQL failure as a failure of `action`.
    @discardableResult
    func step<T>(_ action: String, _ body: () throws(PostgresFailure) -> T) throws(DriverError) -> T {
        do {
            return try body()
        } catch {
            let state = error.sqlState.map { " (SQLSTATE \($0))" } ?? ""
            throw self.error("\(action): \(error.message)\(state)", retryable: error.retryable)
        }
    }

    /// A connection to `database` (the admin database by default) as the administrator.
    func connectAsAdmin(to database: String? = nil) throws(DriverError) -> PostgresConnection {
        let server = spec.server
        let database = database ?? server.adminDatabase
        return try step("connecting to \(database) at \(server.host):\(server.port) as \(server.adminUser)") {
            () throws(PostgresFailure) in
            try PostgresConnection.connect(
                to: server, database: database, user: server.adminUser, password: server.adminPassword)
        }
    }

    /// A connection to the resource's database as its role, or the failure to connect.
    func connectAsRole(password: String) -> Result<PostgresConnection, PostgresFailure> {
        Result { () throws(PostgresFailure) in
            try PostgresConnection.connect(
                to: spec.server, database: spec.database, user: spec.user, password: password)
        }
    }
}
