import Glibc
import TrellisDomain

/// A migration's SQL as it will run, with the digest it is recorded under.
struct Migration {
    var name: String
    var sql: String
    var sha256: String
}

extension PostgresOperation {
    /// A migration file is sent to the server as one query; the bound keeps a mistaken
    /// path (a dump, a binary) from being read into memory whole.
    static let maximumMigrationBytes = 16 << 20

    /// Reads every listed migration, in order.
    func readMigrations() throws(DriverError) -> [Migration] {
        var migrations: [Migration] = []
        for source in spec.migrations {
            let sql: [UInt8]
            switch source.content {
            case .inline(let text): sql = Array(text.utf8)
            case .file(let path, let directory): sql = try read(path, in: directory)
            }
            guard let text = String(validating: sql, as: UTF8.self), !sql.contains(0) else {
                throw error("migration \(source.name) is not UTF-8 text without NUL bytes")
            }
            migrations.append(Migration(name: source.name, sql: text, sha256: SHA256.hexDigest(of: sql)))
        }
        return migrations
    }

    /// The file at `path` in `directory`, or in the environment directory when there is
    /// none, opened without following symlinks on the way.
    private func read(_ path: RelativePath, in directory: String?) throws(DriverError) -> [UInt8] {
        let base: EnvironmentDirectory
        if let directory {
            let raw = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard raw >= 0 else {
                throw error("params.migrationsDir: " + systemCallFailure("open \(directory)", errno: errno))
            }
            base = EnvironmentDirectory(path: directory, descriptor: OwnedDescriptor(raw), driver: prefix)
        } else {
            guard let environmentDirectory else {
                throw error("\(path.field): a migration file needs migrationsDir or an environment directory")
            }
            let raw = open(environmentDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard raw >= 0 else {
                throw error(
                    "\(path.field): " + systemCallFailure("open \(environmentDirectory)", errno: errno))
            }
            base = EnvironmentDirectory(path: environmentDirectory, descriptor: OwnedDescriptor(raw), driver: prefix)
        }

        let last = path.components.count - 1
        guard let parent = try base.openParent(of: path) else {
            throw base.failure(path, upTo: last, "no such file")
        }
        let raw = openat(parent.raw, path.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard raw >= 0 else {
            let code = errno
            if code == ELOOP { try base.refuseSymlink(path, upTo: last, in: parent) }
            throw base.failure(
                path, upTo: last, code == ENOENT ? "no such file" : systemCallFailure("openat", errno: code))
        }
        let file = OwnedDescriptor(raw)
        var status = stat()
        guard fstat(file.raw, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            throw base.failure(path, upTo: last, "is not a regular file")
        }
        switch file.readAll(limit: Self.maximumMigrationBytes) {
        case .success(let bytes?): return bytes
        case .success(nil): throw base.failure(path, upTo: last, "is larger than \(Self.maximumMigrationBytes) bytes")
        case .failure(let failure): throw base.failure(path, upTo: last, failure.description)
        }
    }

    /// Runs, as the role, each migration not yet recorded, in order; refuses a recorded
    /// migration whose SQL changed before running any.
    ///
    /// Each migration and its record commit in one transaction, under an advisory lock,
    /// so two applies at once cannot both run it and a failure leaves no record.
    func applyMigrations(_ migrations: [Migration], as role: PostgresConnection) throws(DriverError) {
        guard !migrations.isEmpty else { return }
        let recorded = try records(role)
        for migration in migrations {
            try refuseChanged(migration, recorded: recorded[migration.name])
        }

        for migration in migrations where recorded[migration.name] == nil {
            try step("migration \(migration.name)") { () throws(PostgresFailure) in
                try role.execute("BEGIN")
                try role.execute("SELECT pg_catalog.pg_advisory_xact_lock(\(Self.migrationLock))")
                let current = try role.execute(
                    "SELECT sha256 FROM \(Self.migrationTable) WHERE name = $1", [migration.name])
                if current.isEmpty {
                    try role.execute(migration.sql)
                    guard role.inTransaction else {
                        throw PostgresFailure(
                            message:
                                "its SQL ended the transaction (COMMIT or ROLLBACK), so it cannot be recorded with it",
                            sqlState: nil, retryable: false)
                    }
                    try role.execute(
                        "INSERT INTO \(Self.migrationTable) (name, sha256) VALUES ($1, $2)",
                        [migration.name, migration.sha256])
                }
                try role.execute("COMMIT")
            }
        }
        // Applies that raced this one recorded theirs under the lock; their digests are
        // checked as every other's.
        let after = try records(role)
        for migration in migrations {
            try refuseChanged(migration, recorded: after[migration.name])
        }
    }

    /// The recorded migrations: name to digest.
    func records(_ connection: PostgresConnection) throws(DriverError) -> [String: String] {
        try step("reading \(Self.migrationTable)") { () throws(PostgresFailure) in
            var records: [String: String] = [:]
            for row in try connection.execute("SELECT name, sha256 FROM \(Self.migrationTable)") {
                if let name = row[0], let digest = row[1] { records[name] = digest }
            }
            return records
        }
    }

    private func refuseChanged(_ migration: Migration, recorded: String?) throws(DriverError) {
        guard let recorded, recorded != migration.sha256 else { return }
        throw error(
            "migration \(migration.name) changed since it was applied (recorded sha256 \(recorded), "
                + "now \(migration.sha256)); an applied migration is never run again: add a new one instead")
    }

    /// The advisory lock key of migrations in one database (advisory locks are per
    /// database): an arbitrary constant, `trellis` in ASCII.
    static let migrationLock = 0x7472_656c_6c69_73
}
