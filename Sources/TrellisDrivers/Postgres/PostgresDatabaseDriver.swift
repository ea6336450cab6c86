import TrellisDomain

/// A PostgreSQL database with a role that owns it, on an existing server, brought up to
/// date by a list of migrations.
///
/// Params (the connection and admin credentials usually come from a resource
/// definition's defaults; a developer gives `name` and `migrations`):
/// - `host` (`127.0.0.1`), `port` (5432, an integer or a numeric string),
///   `adminUser` (required), `adminPassword`, `adminDatabase` (`postgres`): the server
///   and a superuser to act as.
/// - `name` (required): the database; `user`: the role, by default the same name. Both
///   match `[a-z_][a-z0-9_]*`, at most 63 bytes.
/// - `migrations`: a list of paths to SQL files (relative to `migrationsDir`, or else to
///   the environment directory) and inline `{name, sql}` maps, applied in order.
/// - `migrationsDir`: an absolute directory on the host.
///
/// Outputs: `host`, `port`, `database`, `user`, and the secrets `password` and `url`
/// (`postgresql://USER:PASSWORD@HOST:PORT/DATABASE`).
///
/// Apply creates what is missing and changes nothing that matches: the role keeps the
/// password the last apply returned, and each migration runs once, in a transaction with
/// its record in `trellis_migrations`. Observe reports a missing database as missing,
/// and a missing role, a changed owner or password, or a listed migration not applied as
/// drift. Delete drops the database (ending its sessions) and the role.
///
/// libpq blocks, so each operation runs on a thread of its own, never on the
/// cooperative pool.
public struct PostgresDatabaseDriver: ResourceDriver {
    public let name = PostgresDatabaseSpec.driver

    public init() {}

    public func validate(_ params: SpecMap) -> [ParamProblem] {
        PostgresDatabaseSpec.problems(in: params)
    }

    public func apply(_ request: DriverRequest) async throws(DriverError) -> DriverOutputs {
        var operation = try PostgresOperation(request)
        let password: String
        if let kept = request.applied?.values["password"]?.stringValue {
            password = kept
        } else {
            password = try PostgresPassword.generate()
        }
        operation.secrets.append(password)
        let prepared = operation
        try await PostgresThread.run(resource: request.resource) { () throws(DriverError) in
            try prepared.apply(password: password)
        }
        return Self.outputs(operation.spec, password: password)
    }

    public func observe(_ request: DriverRequest, applied: DriverOutputs) async throws(DriverError) -> Observation {
        var operation = try PostgresOperation(request)
        let password = applied.values["password"]?.stringValue
        if let password { operation.secrets.append(password) }
        let prepared = operation
        return try await PostgresThread.run(resource: request.resource) { () throws(DriverError) in
            try prepared.observe(password: password)
        }
    }

    public func delete(_ request: DriverRequest) async throws(DriverError) {
        let operation = try PostgresOperation(request)
        try await PostgresThread.run(resource: request.resource) { () throws(DriverError) in
            try operation.delete()
        }
    }

    static func outputs(_ spec: PostgresDatabaseSpec, password: String) -> DriverOutputs {
        let server = spec.server
        let host = server.host.contains(":") ? "[\(server.host)]" : server.host
        let url =
            "postgresql://\(percentEncoded(spec.user)):\(percentEncoded(password))@\(host):\(server.port)/"
            + spec.database
        return DriverOutputs(
            values: [
                "host": .string(server.host), "port": .int(server.port), "database": .string(spec.database),
                "user": .string(spec.user), "password": .string(password), "url": .string(url),
            ],
            secretKeys: ["password", "url"])
    }

    /// `text` with everything but RFC 3986's unreserved characters percent-encoded, for
    /// the user and password of a URL.
    static func percentEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                encoded.append(byte)
            default:
                encoded += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }
}
