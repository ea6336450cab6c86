import TrellisDomain

/// A `postgres-database` resource's params, checked and parsed.
struct PostgresDatabaseSpec: Sendable {
    static let driver = "postgres-database"
    static let fields = [
        "host", "port", "adminUser", "adminPassword", "adminDatabase", "name", "user", "migrations", "migrationsDir",
    ]
    static let defaultHost = "127.0.0.1"
    static let defaultPort = 5432
    static let defaultAdminDatabase = "postgres"
    /// PostgreSQL's `NAMEDATALEN - 1`: longer identifiers are silently truncated by the
    /// server, so two names could become one.
    static let maximumNameLength = 63
    /// Databases every server has; deleting a resource that named one would drop it.
    static let reservedDatabases: Set<String> = ["postgres", "template0", "template1"]

    var server: PostgresServerAddress
    /// The database, and the role that owns it: both match `[a-z_][a-z0-9_]*`.
    var database: String
    var user: String
    var migrations: [MigrationSource]

    static func problems(in params: SpecMap) -> [ParamProblem] {
        var checks = ParamChecks(params)
        checks.rejectUnknown(driver: driver, allowed: fields)
        checks.require("adminUser")
        checks.require("name")
        check(params, "host", &checks, host(of:))
        check(params, "port", &checks, port(of:))
        check(params, "adminUser", &checks) { connectionText($0, empty: false) }
        check(params, "adminPassword", &checks) { connectionText($0, empty: true) }
        check(params, "adminDatabase", &checks) { connectionText($0, empty: false) }
        check(params, "name", &checks) { database(of: $0) }
        check(params, "user", &checks) { role(of: $0) }
        checkDistinctRoles(params, &checks)
        check(params, "migrationsDir", &checks, directory(of:))
        checkMigrations(params, &checks)
        return checks.problems
    }

    /// The params of an apply (placeholders substituted), or the reasons they are wrong,
    /// in an error about `resource`.
    init(_ params: SpecMap, resource: String) throws(DriverError) {
        let subject = "\(Self.driver): \(resource)"
        let problems = Self.problems(in: params)
        guard problems.isEmpty else { throw DriverError.invalidParams(subject, problems) }
        func field<T>(_ key: String, _ parse: (SpecValue) -> Result<T, ParamFailure>) throws(DriverError) -> T? {
            guard let value = params[key], !value.isNull else { return nil }
            return try parse(value).get(driver: subject, field: "params.\(key)")
        }
        database = try field("name", Self.database(of:))!
        user = try field("user", Self.role(of:)) ?? database
        server = PostgresServerAddress(
            host: try field("host", Self.host(of:)) ?? Self.defaultHost,
            port: try field("port", Self.port(of:)) ?? Self.defaultPort,
            adminUser: try field("adminUser") { Self.connectionText($0, empty: false) }!,
            adminPassword: try field("adminPassword") { Self.connectionText($0, empty: true) },
            adminDatabase: try field("adminDatabase") { Self.connectionText($0, empty: false) }
                ?? Self.defaultAdminDatabase)
        let directory = try field("migrationsDir", Self.directory(of:))
        migrations = []
        for (index, entry) in (params["migrations"]?.listValue ?? []).enumerated() {
            migrations.append(
                try Self.migration(entry, index: index, directory: directory)
                    .get(driver: subject, field: "params.migrations[\(index)]"))
        }
    }

    /// Runs `parse` on `params[key]` unless it is absent, null or a placeholder.
    private static func check<T>(
        _ params: SpecMap, _ key: String, _ checks: inout ParamChecks, _ parse: (SpecValue) -> Result<T, ParamFailure>
    ) {
        guard let value = params[key], !value.isNull, !ParamChecks.isPlaceholder(value) else { return }
        if case .failure(let failure) = parse(value) { checks.add(key, failure.message) }
    }

    /// The role is changed (its password set) and dropped with the resource: it must not
    /// be the administrator's own.
    private static func checkDistinctRoles(_ params: SpecMap, _ checks: inout ParamChecks) {
        guard let admin = params["adminUser"]?.stringValue, !admin.contains("${"),
            let role = (params["user"] ?? params["name"])?.stringValue, role == admin
        else { return }
        checks.add(params["user"] == nil ? "name" : "user", "must not be the administrator role \(admin)")
    }

    private static func checkMigrations(_ params: SpecMap, _ checks: inout ParamChecks) {
        guard let value = params["migrations"], !value.isNull else { return }
        guard let entries = value.listValue else {
            checks.add("migrations", "expected a list of paths and {name, sql} maps, found \(value.typeName)")
            return
        }
        var seen: [String: Int] = [:]
        for (index, entry) in entries.enumerated() {
            let key = "migrations[\(index)]"
            guard !ParamChecks.isPlaceholder(entry) else { continue }
            switch migration(entry, index: index, directory: nil) {
            case .failure(let failure):
                checks.add(key, failure.message)
            case .success(let source):
                if let earlier = seen[source.name] {
                    checks.add(key, "repeats the migration \(source.name) of migrations[\(earlier)]")
                } else {
                    seen[source.name] = index
                }
            }
        }
    }

    private static func host(of value: SpecValue) -> Result<String, ParamFailure> {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:")
        guard let text = value.stringValue, !text.isEmpty, text.utf8.count <= 253, text.allSatisfy(allowed.contains)
        else {
            return .failure(ParamFailure("\(value.canonicalJSON) is not a host name or IP address"))
        }
        return .success(text)
    }

    private static func port(of value: SpecValue) -> Result<Int, ParamFailure> {
        let number = value.intValue ?? value.stringValue.flatMap { Int($0) }
        guard let number, (1...65535).contains(number) else {
            return .failure(ParamFailure("\(value.canonicalJSON) is not a port number (1-65535)"))
        }
        return .success(number)
    }

    /// Text passed to libpq as a connection parameter (never into SQL): a string without
    /// NUL bytes, which C strings cannot hold.
    private static func connectionText(_ value: SpecValue, empty: Bool) -> Result<String, ParamFailure> {
        guard let text = value.stringValue else {
            return .failure(ParamFailure("expected a string, found \(value.typeName)"))
        }
        guard empty || !text.isEmpty else { return .failure(ParamFailure("must not be empty")) }
        guard !text.utf8.contains(0) else { return .failure(ParamFailure("must not contain a NUL byte")) }
        return .success(text)
    }

    private static func identifier(of value: SpecValue) -> Result<String, ParamFailure> {
        guard let text = value.stringValue else {
            return .failure(ParamFailure("expected a string, found \(value.typeName)"))
        }
        let quoted = value.canonicalJSON
        guard text.utf8.count <= maximumNameLength else {
            return .failure(ParamFailure("\(quoted) is longer than \(maximumNameLength) bytes"))
        }
        guard let first = text.utf8.first, first == UInt8(ascii: "_") || (97...122).contains(first),
            text.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || (97...122).contains($0) || (48...57).contains($0) })
        else {
            return .failure(
                ParamFailure("\(quoted) is not a name of lowercase letters, digits and underscores ([a-z_][a-z0-9_]*)"))
        }
        return .success(text)
    }

    private static func database(of value: SpecValue) -> Result<String, ParamFailure> {
        identifier(of: value).flatMap { name in
            reservedDatabases.contains(name)
                ? .failure(ParamFailure("\"\(name)\" is a database every server keeps for itself")) : .success(name)
        }
    }

    private static func role(of value: SpecValue) -> Result<String, ParamFailure> {
        identifier(of: value).flatMap { name in
            name.hasPrefix("pg_") || name == "postgres"
                ? .failure(ParamFailure("\"\(name)\" is reserved for PostgreSQL's own roles")) : .success(name)
        }
    }

    private static func directory(of value: SpecValue) -> Result<String, ParamFailure> {
        guard let text = value.stringValue else {
            return .failure(ParamFailure("expected an absolute directory path, found \(value.typeName)"))
        }
        guard text.hasPrefix("/"), !text.utf8.contains(0) else {
            return .failure(ParamFailure("\(value.canonicalJSON) is not an absolute path"))
        }
        guard !text.split(separator: "/").contains("..") else {
            return .failure(ParamFailure("\(value.canonicalJSON) must not contain .. components"))
        }
        return .success(text)
    }

    /// One entry of `migrations`: a path string or a `{name, sql}` map.
    private static func migration(
        _ value: SpecValue, index: Int, directory: String?
    ) -> Result<MigrationSource, ParamFailure> {
        if let text = value.stringValue {
            return RelativePath.parse(text, field: "params.migrations[\(index)]").map { path in
                MigrationSource(name: path.description, content: .file(path, directory: directory))
            }
        }
        guard let map = value.mapValue else {
            return .failure(ParamFailure("expected a path string or a {name, sql} map, found \(value.typeName)"))
        }
        if let unknown = map.keys.first(where: { $0 != "name" && $0 != "sql" }) {
            return .failure(ParamFailure("unknown field \(unknown) (an inline migration takes name and sql)"))
        }
        guard let name = map["name"]?.stringValue, !name.isEmpty else {
            return .failure(ParamFailure("an inline migration needs a name, a non-empty string"))
        }
        guard name.utf8.count <= maximumMigrationNameLength, !name.utf8.contains(0) else {
            return .failure(ParamFailure("the name must be at most \(maximumMigrationNameLength) bytes, without NUL"))
        }
        guard let sql = map["sql"]?.stringValue else {
            return .failure(ParamFailure("an inline migration needs sql, a string"))
        }
        guard !sql.utf8.contains(0) else { return .failure(ParamFailure("the sql must not contain a NUL byte")) }
        return .success(MigrationSource(name: name, content: .inline(sql)))
    }

    /// Migration names are recorded as text; the bound keeps records and messages short.
    static let maximumMigrationNameLength = 255
}

/// Where the driver connects and as whom.
struct PostgresServerAddress: Sendable {
    var host: String
    var port: Int
    var adminUser: String
    var adminPassword: String?
    var adminDatabase: String
}

/// One listed migration, before its SQL is read.
struct MigrationSource: Sendable {
    enum Content: Sendable {
        case inline(String)
        /// Relative to `directory` when given, else to the environment directory.
        case file(RelativePath, directory: String?)
    }

    /// The name it is recorded under: the inline name, or the normalised path.
    var name: String
    var content: Content
}
