extension PostgresOperation {
    /// Creates or repairs the role and the database, then applies pending migrations.
    ///
    /// Each step first looks, then acts only where something differs, so a second apply
    /// with the same params runs queries and changes nothing.
    func apply(password: String) throws(DriverError) {
        // Migrations are read first: a missing file fails the apply before it changes
        // anything.
        let migrations = try readMigrations()

        let admin = try connectAsAdmin()
        let created = try ensureRole(admin, password: password)
        try ensureDatabase(admin)

        let inDatabase = try connectAsAdmin(to: spec.database)
        try ensureMigrationTable(inDatabase)
        let role = try roleConnection(admin, password: password, roleWasCreated: created)
        try applyMigrations(migrations, as: role)
    }

    /// Creates the role when it is missing; returns whether it did.
    private func ensureRole(_ admin: PostgresConnection, password: String) throws(DriverError) -> Bool {
        let user = spec.user
        return try step("creating role \(user)") { () throws(PostgresFailure) in
            let exists = try !admin.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", [user]).isEmpty
            guard !exists else { return false }
            let verifier = try admin.literal(admin.encryptedPassword(password, role: user))
            // A role another apply created in between keeps its password until the role's
            // connection below finds it wrong.
            return try Self.create(
                admin, "CREATE ROLE \(try admin.identifier(user)) LOGIN PASSWORD \(verifier)", exists: "42710")
        }
    }

    /// Creates the database owned by the role, or gives an existing one back to the role.
    private func ensureDatabase(_ admin: PostgresConnection) throws(DriverError) {
        let (database, user) = (spec.database, spec.user)
        try step("creating database \(database)") { () throws(PostgresFailure) in
            let query = "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database WHERE datname = $1"
            let name = try admin.identifier(database)
            let role = try admin.identifier(user)
            if try admin.execute(query, [database]).isEmpty,
                try Self.create(admin, "CREATE DATABASE \(name) OWNER \(role)", exists: "42P04")
            {
                return
            }
            if try admin.execute(query, [database]).first?[0] != user {
                try admin.execute("ALTER DATABASE \(name) OWNER TO \(role)")
            }
        }
    }

    /// Creates `trellis_migrations`, owned by the administrator so that the role can add
    /// records but not change or remove them, and lets the role read and insert; under
    /// the migrations' advisory lock, since concurrent `CREATE TABLE IF NOT EXISTS` and
    /// `GRANT` statements on one table can fail each other.
    private func ensureMigrationTable(_ connection: PostgresConnection) throws(DriverError) {
        let user = spec.user
        try step("preparing \(Self.migrationTable) in \(spec.database)") { () throws(PostgresFailure) in
            try connection.execute("BEGIN")
            try connection.execute("SELECT pg_catalog.pg_advisory_xact_lock(\(Self.migrationLock))")
            let found = try connection.execute("SELECT pg_catalog.to_regclass($1) IS NOT NULL", [Self.migrationTable])
            if found.first?.first != "t" {
                try connection.execute(
                    """
                    CREATE TABLE \(Self.migrationTable) (
                        name text PRIMARY KEY,
                        sha256 text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )
                    """)
            }
            let privileges = try connection.execute(
                "SELECT pg_catalog.has_table_privilege($1, $2, 'SELECT, INSERT')", [user, Self.migrationTable])
            if privileges.first?.first != "t" {
                try connection.execute(
                    "GRANT SELECT, INSERT ON \(Self.migrationTable) TO \(connection.identifier(user))")
            }
            try connection.execute("COMMIT")
        }
    }

    /// Runs a `CREATE` statement; returns false when the object exists after all, created
    /// by another apply in between: the server says so with `exists`, or with a unique
    /// violation when its catalog index saw the other first.
    private static func create(
        _ connection: PostgresConnection, _ sql: String, exists: String
    ) throws(PostgresFailure) -> Bool {
        switch Result(catching: { () throws(PostgresFailure) in try connection.execute(sql) }) {
        case .success: return true
        case .failure(let failure) where failure.sqlState == exists || failure.sqlState == "23505": return false
        case .failure(let failure): throw failure
        }
    }

    /// A connection as the role with `password`; when the server refuses it, the role is
    /// given the password (and the right to log in) and the connection tried again. A
    /// role whose password already works is left unchanged.
    private func roleConnection(
        _ admin: PostgresConnection, password: String, roleWasCreated: Bool
    ) throws(DriverError) -> PostgresConnection {
        let action = "connecting to \(spec.database) as \(spec.user)"
        switch connectAsRole(password: password) {
        case .success(let connection): return connection
        case .failure(let failure) where failure.retryable || roleWasCreated:
            throw error("\(action): \(failure.message)", retryable: failure.retryable)
        case .failure: break
        }
        let user = spec.user
        try step("setting the password of role \(user)") { () throws(PostgresFailure) in
            let verifier = try admin.literal(admin.encryptedPassword(password, role: user))
            try admin.execute("ALTER ROLE \(try admin.identifier(user)) WITH LOGIN PASSWORD \(verifier)")
        }
        return try step(action) { () throws(PostgresFailure) in try connectAsRole(password: password).get() }
    }

    /// The table of applied migrations, in the database's `public` schema.
    static let migrationTable = "public.trellis_migrations"
}
