extension PostgresOperation {
    /// Compares the server with what apply makes; changes nothing.
    ///
    /// Checked in order: the database exists (else missing), the role exists, owns the
    /// database and accepts `password` (the one apply returned), and every listed
    /// migration is recorded with its current digest.
    func observe(password: String?) throws(DriverError) -> Observation {
        let (database, user) = (spec.database, spec.user)
        let admin = try connectAsAdmin()
        let (owner, roleExists) = try step("reading database \(database)") {
            () throws(PostgresFailure) -> (String??, Bool) in
            let owner = try admin.execute(
                "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database WHERE datname = $1", [database]
            ).first.map { $0[0] }
            let role = try admin.execute("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", [user])
            return (owner, !role.isEmpty)
        }
        guard let owner else { return .missing("database \(database) does not exist") }
        guard roleExists else { return .drifted("role \(user) does not exist") }
        if owner != user {
            return .drifted("database \(database) is owned by \(owner ?? "nobody"), not \(user)")
        }
        if let password, case .failure(let failure) = connectAsRole(password: password) {
            if failure.retryable {
                throw error("connecting to \(database) as \(user): \(failure.message)", retryable: true)
            }
            return .drifted("role \(user) cannot log in with the password apply returned")
        }

        let migrations = try readMigrations()
        guard !migrations.isEmpty else { return .matches }
        let inDatabase = try connectAsAdmin(to: database)
        let hasTable = try step("reading database \(database)") { () throws(PostgresFailure) in
            try inDatabase.execute("SELECT pg_catalog.to_regclass($1) IS NOT NULL", [Self.migrationTable])
                .first?.first == "t"
        }
        let recorded = hasTable ? try records(inDatabase) : [:]
        for migration in migrations {
            switch recorded[migration.name] {
            case nil: return .drifted("migration \(migration.name) is not applied")
            case migration.sha256?: continue
            default: return .drifted("migration \(migration.name) changed since it was applied")
            }
        }
        return .matches
    }

    /// Drops the database, after ending the sessions connected to it, and the role.
    func delete() throws(DriverError) {
        let (database, user) = (spec.database, spec.user)
        let admin = try connectAsAdmin()
        try step("dropping database \(database)") { () throws(PostgresFailure) in
            try admin.execute(
                """
                SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
                WHERE datname = $1 AND pid <> pg_catalog.pg_backend_pid()
                """, [database])
            try admin.execute("DROP DATABASE IF EXISTS \(try admin.identifier(database))")
        }
        try step("dropping role \(user)") { () throws(PostgresFailure) in
            try admin.execute("DROP ROLE IF EXISTS \(try admin.identifier(user))")
        }
    }
}
