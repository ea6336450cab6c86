/// One step of the schema: applied once, in order, inside a transaction.
struct Migration: Sendable {
    /// The schema version this migration produces, counting from 1.
    let version: Int64
    /// A short description, recorded in `schema_migrations`.
    let name: String
    /// The statements to run.
    let sql: String
}

/// The SQLite schema of the state store, as its ordered list of migrations.
///
/// A migration is never edited once released; a change to the schema is a new migration
/// at the end of the list.
enum Schema {
    static let migrations: [Migration] = [
        Migration(
            version: 1, name: "documents, environments, resources, journal",
            sql: """
                CREATE TABLE documents (
                    kind TEXT NOT NULL,
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL CHECK (version > 0),
                    body TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    PRIMARY KEY (kind, name, version)
                ) WITHOUT ROWID;

                CREATE TABLE environments (
                    name TEXT PRIMARY KEY,
                    spec TEXT NOT NULL,
                    template_name TEXT NOT NULL,
                    template_version INTEGER NOT NULL,
                    team TEXT NOT NULL,
                    labels TEXT NOT NULL,
                    phase TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    ttl_seconds INTEGER CHECK (ttl_seconds IS NULL OR ttl_seconds >= 0),
                    deletion_requested INTEGER NOT NULL DEFAULT 0,
                    revision INTEGER NOT NULL CHECK (revision > 0)
                );
                CREATE INDEX environments_by_phase ON environments (phase);
                CREATE INDEX environments_by_expiry ON environments (created_at + ttl_seconds * 1000)
                    WHERE ttl_seconds IS NOT NULL;

                CREATE TABLE resources (
                    environment TEXT NOT NULL REFERENCES environments (name) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    type TEXT NOT NULL,
                    driver TEXT NOT NULL,
                    params TEXT NOT NULL,
                    dependencies TEXT NOT NULL,
                    phase TEXT NOT NULL,
                    outputs TEXT NOT NULL,
                    secret_output_keys TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    started_at INTEGER,
                    finished_at INTEGER,
                    last_error TEXT,
                    agent TEXT,
                    PRIMARY KEY (environment, name)
                ) WITHOUT ROWID;

                CREATE TABLE journal (
                    sequence INTEGER PRIMARY KEY AUTOINCREMENT,
                    environment TEXT NOT NULL,
                    resource TEXT,
                    operation TEXT NOT NULL,
                    transition TEXT NOT NULL,
                    terminal INTEGER NOT NULL,
                    payload TEXT NOT NULL,
                    time INTEGER NOT NULL
                );
                CREATE INDEX journal_by_operation ON journal (environment, resource, operation, sequence);
                """),
        Migration(
            version: 2, name: "agents, join tokens, resource health and drift",
            sql: """
                CREATE TABLE agents (
                    name TEXT PRIMARY KEY,
                    public_key_sha256 TEXT NOT NULL,
                    labels TEXT NOT NULL,
                    drivers TEXT NOT NULL,
                    capacity INTEGER NOT NULL,
                    hostname TEXT NOT NULL,
                    version TEXT NOT NULL,
                    joined_at INTEGER NOT NULL,
                    last_seen_at INTEGER NOT NULL
                );

                CREATE TABLE join_tokens (
                    id TEXT PRIMARY KEY,
                    secret_sha256 TEXT NOT NULL,
                    labels TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    used_at INTEGER,
                    used_by TEXT
                );

                ALTER TABLE resources ADD COLUMN health TEXT NOT NULL DEFAULT '';
                ALTER TABLE resources ADD COLUMN health_message TEXT NOT NULL DEFAULT '';
                ALTER TABLE resources ADD COLUMN drift TEXT NOT NULL DEFAULT '';
                CREATE INDEX resources_by_agent ON resources (agent);
                """),
        Migration(
            version: 3, name: "agent index without the coordinator's own resources",
            sql: """
                DROP INDEX resources_by_agent;
                CREATE INDEX resources_by_agent ON resources (agent) WHERE agent IS NOT NULL;
                """),
        Migration(
            version: 4, name: "the transition log's last applied batch",
            sql: """
                CREATE TABLE transition_log (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    applied INTEGER NOT NULL CHECK (applied >= 0)
                );
                INSERT INTO transition_log (id, applied) VALUES (1, 0);
                """),
    ]

    /// The newest schema version this build knows.
    static var latestVersion: Int64 { migrations.last?.version ?? 0 }
}

extension SQLiteConnection {
    /// Brings the schema up to the last of `migrations`; returns the versions applied.
    ///
    /// Each migration runs in its own transaction together with its `schema_migrations`
    /// row, so a failure leaves the database at the previous version. A database at a
    /// version newer than the list knows is refused: this build would misread it.
    func migrate(_ migrations: [Migration]) throws(StoreError) -> [Int64] {
        for (index, migration) in migrations.enumerated() {
            precondition(migration.version == Int64(index + 1), "store: migrations must be numbered 1, 2, 3, ...")
        }

        try execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY,
                name TEXT NOT NULL,
                applied_at INTEGER NOT NULL
            )
            """, operation: "create schema_migrations")
        let current =
            try queryFirst("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", operation: "read schema version")
        {
            $0.int64(0)
        } ?? 0
        let known = migrations.last?.version ?? 0
        guard current <= known else {
            throw StoreError(
                code: .schemaTooNew,
                message:
                    "store: \(path) has schema version \(current), newer than \(known), the newest this build knows; "
                    + "use a newer trellisd or another data directory")
        }

        var applied: [Int64] = []
        for migration in migrations where migration.version > current {
            let operation = "migrate to schema version \(migration.version) (\(migration.name))"
            do throws(StoreError) {
                try execute("BEGIN IMMEDIATE", operation: operation)
                try execute(migration.sql, operation: operation)
                try run(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, strftime('%s', 'now') * 1000)",
                    operation: operation, [.integer(migration.version), .text(migration.name)])
                try execute("COMMIT", operation: operation)
            } catch {
                if isInTransaction { try? execute("ROLLBACK", operation: operation) }
                throw StoreError(code: .migration, message: error.message, sqliteCode: error.sqliteCode)
            }
            applied.append(migration.version)
        }
        return applied
    }
}
