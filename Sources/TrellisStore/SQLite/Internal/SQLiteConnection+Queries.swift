/// The store's reads, as SQL on the connection.
extension SQLiteConnection {
    private static let documentColumns = "kind, name, version, body, created_at"

    private static func document(_ row: SQLiteStatement) -> CatalogDocument {
        CatalogDocument(
            kind: row.text(0), name: row.text(1), version: row.int64(2), body: row.text(3), createdAt: row.int64(4))
    }

    func document(kind: String, name: String, version: Int64?) throws(StoreError) -> CatalogDocument? {
        try queryFirst(
            """
            SELECT \(Self.documentColumns) FROM documents
            WHERE kind = ? AND name = ? AND (?3 IS NULL OR version = ?3)
            ORDER BY version DESC LIMIT 1
            """, operation: "get document", [.text(kind), .text(name), .optional(version)], row: Self.document)
    }

    func documents(kind: String?, allVersions: Bool) throws(StoreError) -> [CatalogDocument] {
        try query(
            """
            SELECT \(Self.documentColumns) FROM documents AS d
            WHERE (?1 IS NULL OR d.kind = ?1)
              AND (?2 OR d.version = (SELECT MAX(version) FROM documents WHERE kind = d.kind AND name = d.name))
            ORDER BY d.kind, d.name, d.version
            """, operation: "list documents", [.optional(kind), .bool(allVersions)], row: Self.document)
    }

    private static let environmentColumns = """
        name, spec, template_name, template_version, team, labels, phase, created_at, ttl_seconds,
        deletion_requested, revision
        """

    private static func environment(_ row: SQLiteStatement) -> EnvironmentRecord {
        EnvironmentRecord(
            name: row.text(0), spec: row.text(1), templateName: row.text(2), templateVersion: row.int64(3),
            team: row.text(4), labels: row.text(5), phase: row.text(6), createdAt: row.int64(7),
            ttlSeconds: row.optionalInt64(8), deletionRequested: row.bool(9), revision: row.int64(10))
    }

    func environment(named name: String) throws(StoreError) -> EnvironmentRecord? {
        try queryFirst(
            "SELECT \(Self.environmentColumns) FROM environments WHERE name = ?", operation: "get environment",
            [.text(name)], row: Self.environment)
    }

    func environments(matching filter: EnvironmentFilter) throws(StoreError) -> [EnvironmentRecord] {
        try query(
            """
            SELECT \(Self.environmentColumns) FROM environments
            WHERE (?1 IS NULL OR phase = ?1) AND (?2 IS NULL OR team = ?2)
              AND (?3 IS NULL OR template_name = ?3) AND (?4 IS NULL OR deletion_requested = ?4)
            ORDER BY name
            """, operation: "list environments",
            [
                .optional(filter.phase), .optional(filter.team), .optional(filter.templateName),
                filter.deletionRequested.map(SQLiteValue.bool) ?? .null,
            ], row: Self.environment)
    }

    func expiredEnvironments(now: Int64) throws(StoreError) -> [EnvironmentRecord] {
        // The expression matches the partial index environments_by_expiry.
        try query(
            """
            SELECT \(Self.environmentColumns) FROM environments
            WHERE ttl_seconds IS NOT NULL AND created_at + ttl_seconds * 1000 <= ? AND deletion_requested = 0
            ORDER BY created_at + ttl_seconds * 1000, name
            """, operation: "list expired environments", [.integer(now)], row: Self.environment)
    }

    private static let resourceColumns = """
        environment, name, type, driver, params, dependencies, phase, outputs, secret_output_keys,
        attempts, started_at, finished_at, last_error, agent, health, health_message, drift
        """

    private static func resource(_ row: SQLiteStatement) throws(StoreError) -> ResourceRecord {
        let keys = row.text(8)
        guard let secretKeys = JSONStringArray.decode(keys) else {
            throw StoreError(
                code: .corrupt,
                message: "store: read resource \(row.text(0))/\(row.text(1)): secret_output_keys is not a JSON array "
                    + "of strings")
        }
        return ResourceRecord(
            environment: row.text(0), name: row.text(1), type: row.text(2), driver: row.text(3), params: row.text(4),
            dependencies: row.text(5), phase: row.text(6), outputs: row.text(7), secretOutputKeys: secretKeys,
            attempts: row.int64(9), startedAt: row.optionalInt64(10), finishedAt: row.optionalInt64(11),
            lastError: row.optionalText(12), agent: row.optionalText(13), health: row.text(14),
            healthMessage: row.text(15), drift: row.text(16))
    }

    func resources(inEnvironment environment: String) throws(StoreError) -> [ResourceRecord] {
        try query(
            "SELECT \(Self.resourceColumns) FROM resources WHERE environment = ? ORDER BY name",
            operation: "list resources", [.text(environment)], row: Self.resource)
    }

    func resource(inEnvironment environment: String, named name: String) throws(StoreError) -> ResourceRecord? {
        try queryFirst(
            "SELECT \(Self.resourceColumns) FROM resources WHERE environment = ? AND name = ?",
            operation: "get resource", [.text(environment), .text(name)], row: Self.resource)
    }

    func resources(onAgent agent: String) throws(StoreError) -> [ResourceRecord] {
        // Served by the index resources_by_agent.
        try query(
            "SELECT \(Self.resourceColumns) FROM resources WHERE agent = ? ORDER BY environment, name",
            operation: "list resources on agent", [.text(agent)], row: Self.resource)
    }

    private static let agentColumns =
        "name, public_key_sha256, labels, drivers, capacity, hostname, version, joined_at, last_seen_at"

    private static func agent(_ row: SQLiteStatement) -> AgentRecord {
        AgentRecord(
            name: row.text(0), publicKeySHA256: row.text(1), labels: row.text(2), drivers: row.text(3),
            capacity: row.int64(4), hostname: row.text(5), version: row.text(6), joinedAt: row.int64(7),
            lastSeenAt: row.int64(8))
    }

    func agent(named name: String) throws(StoreError) -> AgentRecord? {
        try queryFirst(
            "SELECT \(Self.agentColumns) FROM agents WHERE name = ?", operation: "get agent", [.text(name)],
            row: Self.agent)
    }

    func agents() throws(StoreError) -> [AgentRecord] {
        try query("SELECT \(Self.agentColumns) FROM agents ORDER BY name", operation: "list agents", row: Self.agent)
    }

    func joinToken(id: String) throws(StoreError) -> JoinTokenRecord? {
        try queryFirst(
            """
            SELECT id, secret_sha256, labels, created_at, expires_at, used_at, used_by FROM join_tokens
            WHERE id = ?
            """, operation: "get join token", [.text(id)]
        ) {
            JoinTokenRecord(
                id: $0.text(0), secretSHA256: $0.text(1), labels: $0.text(2), createdAt: $0.int64(3),
                expiresAt: $0.int64(4), usedAt: $0.optionalInt64(5), usedBy: $0.optionalText(6))
        }
    }

    private static let journalColumns =
        "sequence, environment, resource, operation, transition, terminal, payload, time"

    private static func journalEntry(_ row: SQLiteStatement) -> JournalEntry {
        JournalEntry(
            sequence: row.int64(0), environment: row.text(1), resource: row.optionalText(2), operation: row.text(3),
            transition: JournalTransition(row.text(4), isTerminal: row.bool(5)), payload: row.text(6),
            time: row.int64(7))
    }

    func journal(ofEnvironment environment: String, after sequence: Int64?) throws(StoreError) -> [JournalEntry] {
        try query(
            """
            SELECT \(Self.journalColumns) FROM journal WHERE environment = ? AND sequence > ? ORDER BY sequence
            """, operation: "read journal", [.text(environment), .integer(sequence ?? 0)], row: Self.journalEntry)
    }

    func unfinishedWork(ofEnvironment environment: String) throws(StoreError) -> [UnfinishedWork] {
        // Every entry after the last terminal entry of its operation, in order; what
        // remains of an operation is unfinished if it contains an intent.
        let entries = try query(
            """
            SELECT \(Self.journalColumns) FROM journal AS j
            WHERE j.environment = ?
              AND NOT EXISTS (
                SELECT 1 FROM journal AS t
                WHERE t.environment = j.environment AND t.resource IS j.resource AND t.operation = j.operation
                  AND t.terminal = 1 AND t.sequence >= j.sequence)
            ORDER BY j.sequence
            """, operation: "read unfinished work", [.text(environment)], row: Self.journalEntry)

        struct Key: Hashable {
            let resource: String?
            let operation: String
        }
        var open: [Key: UnfinishedWork] = [:]
        for entry in entries {
            let key = Key(resource: entry.resource, operation: entry.operation)
            if entry.transition.name == JournalTransition.intent.name {
                open[key] = UnfinishedWork(intent: entry, latest: entry)
            } else {
                open[key]?.latest = entry
            }
        }
        return open.values.sorted { $0.intent.sequence < $1.intent.sequence }
    }

    func environmentsWithUnfinishedWork() throws(StoreError) -> [String] {
        try query(
            """
            SELECT DISTINCT j.environment FROM journal AS j
            WHERE j.transition = 'intent'
              AND NOT EXISTS (
                SELECT 1 FROM journal AS t
                WHERE t.environment = j.environment AND t.resource IS j.resource AND t.operation = j.operation
                  AND t.terminal = 1 AND t.sequence > j.sequence)
            ORDER BY j.environment
            """, operation: "list environments with unfinished work"
        ) { $0.text(0) }
    }
}
