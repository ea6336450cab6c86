/// The mutations of a batch, as SQL on the connection. Called inside a transaction.
extension SQLiteConnection {
    func apply(_ mutation: StoreMutation) throws(StoreError) -> MutationOutcome {
        switch mutation {
        case .putDocument(let draft):
            return .document(try putDocument(draft))
        case .deleteDocument(let kind, let name):
            let removed = try run(
                "DELETE FROM documents WHERE kind = ? AND name = ?", operation: "delete document",
                [.text(kind), .text(name)])
            return .removed(removed)
        case .createEnvironment(let record):
            return .environmentRevision(try createEnvironment(record))
        case .replaceEnvironment(let record, let expectedRevision):
            return .environmentRevision(try replaceEnvironment(record, expectedRevision: expectedRevision))
        case .setEnvironmentPhase(let name, let phase, let expectedRevision):
            let revision = try updateEnvironment(
                name, set: "phase = ?", [.text(phase)], expectedRevision: expectedRevision,
                operation: "set phase of environment")
            return .environmentRevision(revision)
        case .requestEnvironmentDeletion(let name, let expectedRevision):
            let revision = try updateEnvironment(
                name, set: "deletion_requested = 1", [], expectedRevision: expectedRevision,
                operation: "request deletion of environment")
            return .environmentRevision(revision)
        case .deleteEnvironment(let name):
            try run("DELETE FROM journal WHERE environment = ?", operation: "delete environment journal", [.text(name)])
            let removed = try run(
                "DELETE FROM environments WHERE name = ?", operation: "delete environment", [.text(name)])
            return .removed(removed)
        case .upsertResource(let record):
            try upsertResource(record)
            return .applied
        case .finishResource(let record):
            try finishResource(record)
            return .applied
        case .deleteResource(let environment, let name):
            let removed = try run(
                "DELETE FROM resources WHERE environment = ? AND name = ?", operation: "delete resource",
                [.text(environment), .text(name)])
            return .removed(removed)
        case .appendJournal(let draft):
            return .journalSequence(try appendJournal(draft))
        case .compactJournal(let environment):
            return .removed(try compactJournal(environment: environment))
        case .setResourceHealth(let environment, let name, let health, let message):
            try run(
                "UPDATE resources SET health = ?, health_message = ? WHERE environment = ? AND name = ?",
                operation: "set health of resource", [.text(health), .text(message), .text(environment), .text(name)])
            return .applied
        case .setResourceDrift(let environment, let name, let drift):
            try run(
                "UPDATE resources SET drift = ? WHERE environment = ? AND name = ?",
                operation: "set drift of resource", [.text(drift), .text(environment), .text(name)])
            return .applied
        case .createJoinToken(let record):
            try createJoinToken(record)
            return .applied
        case .consumeJoinToken(let id, let secretSHA256, let agent, let now):
            try consumeJoinToken(id: id, secretSHA256: secretSHA256, agent: agent, now: now)
            return .applied
        case .pruneJoinTokens(let endedBefore):
            let removed = try run(
                "DELETE FROM join_tokens WHERE expires_at < ? OR used_at < ?", operation: "prune join tokens",
                [.integer(endedBefore), .integer(endedBefore)])
            return .removed(removed)
        case .registerAgent(let record):
            try registerAgent(record)
            return .applied
        case .touchAgent(let name, let lastSeenAt):
            try run(
                "UPDATE agents SET last_seen_at = ? WHERE name = ?", operation: "touch agent",
                [.integer(lastSeenAt), .text(name)])
            return .applied
        case .deleteAgent(let name):
            let removed = try run("DELETE FROM agents WHERE name = ?", operation: "delete agent", [.text(name)])
            return .removed(removed)
        }
    }

    private func putDocument(_ draft: CatalogDocumentDraft) throws(StoreError) -> CatalogPutResult {
        let latest = try queryFirst(
            "SELECT version, body FROM documents WHERE kind = ? AND name = ? ORDER BY version DESC LIMIT 1",
            operation: "put document", [.text(draft.kind), .text(draft.name)]
        ) { (version: $0.int64(0), body: $0.text(1)) }
        if let latest, latest.body == draft.body {
            return CatalogPutResult(version: latest.version, changed: false)
        }
        let version = (latest?.version ?? 0) + 1
        try run(
            "INSERT INTO documents (kind, name, version, body, created_at) VALUES (?, ?, ?, ?, ?)",
            operation: "put document",
            [.text(draft.kind), .text(draft.name), .integer(version), .text(draft.body), .integer(draft.createdAt)])
        return CatalogPutResult(version: version, changed: true)
    }

    private func createEnvironment(_ record: EnvironmentRecord) throws(StoreError) -> Int64 {
        let exists = try queryFirst(
            "SELECT 1 FROM environments WHERE name = ?", operation: "create environment", [.text(record.name)]
        ) { _ in true }
        if exists != nil {
            throw StoreError(code: .alreadyExists, message: "store: create environment \(record.name): already exists")
        }
        try run(
            """
            INSERT INTO environments (name, spec, template_name, template_version, team, labels, phase,
                created_at, ttl_seconds, deletion_requested, revision)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
            """, operation: "create environment",
            [
                .text(record.name), .text(record.spec), .text(record.templateName), .integer(record.templateVersion),
                .text(record.team), .text(record.labels), .text(record.phase), .integer(record.createdAt),
                .optional(record.ttlSeconds), .bool(record.deletionRequested),
            ])
        return 1
    }

    private func replaceEnvironment(_ record: EnvironmentRecord, expectedRevision: Int64) throws(StoreError) -> Int64 {
        try updateEnvironment(
            record.name,
            set: """
                spec = ?, template_name = ?, template_version = ?, team = ?, labels = ?, phase = ?,
                created_at = ?, ttl_seconds = ?, deletion_requested = ?
                """,
            [
                .text(record.spec), .text(record.templateName), .integer(record.templateVersion), .text(record.team),
                .text(record.labels), .text(record.phase), .integer(record.createdAt), .optional(record.ttlSeconds),
                .bool(record.deletionRequested),
            ], expectedRevision: expectedRevision, operation: "replace environment")
    }

    /// Updates one environment's columns and increments its revision, if the revision is
    /// `expectedRevision` (or always, when it is `nil`); returns the new revision.
    private func updateEnvironment(
        _ name: String, set assignments: String, _ values: [SQLiteValue], expectedRevision: Int64?,
        operation: String
    ) throws(StoreError) -> Int64 {
        let expected = SQLiteValue.optional(expectedRevision)
        let revision = try queryFirst(
            """
            UPDATE environments SET \(assignments), revision = revision + 1
            WHERE name = ? AND (? IS NULL OR revision = ?)
            RETURNING revision
            """, operation: operation, values + [.text(name), expected, expected]
        ) { $0.int64(0) }
        if let revision { return revision }

        let found = try queryFirst(
            "SELECT revision FROM environments WHERE name = ?", operation: operation, [.text(name)]
        ) { $0.int64(0) }
        guard let found else {
            throw StoreError(code: .notFound, message: "store: \(operation) \(name): no such environment")
        }
        throw StoreError(
            code: .conflict,
            message: "store: \(operation) \(name): revision conflict: expected \(expectedRevision ?? 0), found \(found)"
        )
    }

    /// The columns a run's end owns, on the row its start wrote; the whole row when there
    /// is none.
    private func finishResource(_ record: ResourceRecord) throws(StoreError) {
        let changed = try run(
            """
            UPDATE resources SET phase = ?, outputs = ?, secret_output_keys = ?, last_error = ?, finished_at = ?
            WHERE environment = ? AND name = ?
            """, operation: "finish resource",
            [
                .text(record.phase), .text(record.outputs), .text(JSONStringArray.encode(record.secretOutputKeys)),
                .optional(record.lastError), .optional(record.finishedAt), .text(record.environment),
                .text(record.name),
            ])
        if changed == 0 { try upsertResource(record) }
    }

    private func upsertResource(_ record: ResourceRecord) throws(StoreError) {
        try run(
            """
            INSERT INTO resources (environment, name, type, driver, params, dependencies, phase, outputs,
                secret_output_keys, attempts, started_at, finished_at, last_error, agent, health,
                health_message, drift)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (environment, name) DO UPDATE SET
                type = excluded.type, driver = excluded.driver, params = excluded.params,
                dependencies = excluded.dependencies, phase = excluded.phase, outputs = excluded.outputs,
                secret_output_keys = excluded.secret_output_keys, attempts = excluded.attempts,
                started_at = excluded.started_at, finished_at = excluded.finished_at,
                last_error = excluded.last_error, agent = excluded.agent
            """, operation: "upsert resource",
            [
                .text(record.environment), .text(record.name), .text(record.type), .text(record.driver),
                .text(record.params), .text(record.dependencies), .text(record.phase), .text(record.outputs),
                .text(JSONStringArray.encode(record.secretOutputKeys)), .integer(record.attempts),
                .optional(record.startedAt), .optional(record.finishedAt), .optional(record.lastError),
                .optional(record.agent), .text(record.health), .text(record.healthMessage), .text(record.drift),
            ])
    }

    private func appendJournal(_ draft: JournalDraft) throws(StoreError) -> Int64 {
        let sequence = try queryFirst(
            """
            INSERT INTO journal (environment, resource, operation, transition, terminal, payload, time)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            RETURNING sequence
            """, operation: "append journal",
            [
                .text(draft.environment), .optional(draft.resource), .text(draft.operation),
                .text(draft.transition.name), .bool(draft.transition.isTerminal), .text(draft.payload),
                .integer(draft.time),
            ]
        ) { $0.int64(0) }
        guard let sequence else { preconditionFailure("store: INSERT ... RETURNING returned no row") }
        return sequence
    }

    private func compactJournal(environment: String?) throws(StoreError) -> Int {
        try run(
            """
            DELETE FROM journal AS j
            WHERE (?1 IS NULL OR j.environment = ?1)
              AND j.sequence <= (
                SELECT MAX(t.sequence) FROM journal AS t
                WHERE t.environment = j.environment AND t.resource IS j.resource
                  AND t.operation = j.operation AND t.terminal = 1)
            """, operation: "compact journal", [.optional(environment)])
    }
}

/// Join tokens and agents.
extension SQLiteConnection {
    private func createJoinToken(_ record: JoinTokenRecord) throws(StoreError) {
        let exists = try queryFirst(
            "SELECT 1 FROM join_tokens WHERE id = ?", operation: "create join token", [.text(record.id)]
        ) { _ in true }
        if exists != nil {
            throw StoreError(code: .alreadyExists, message: "store: create join token \(record.id): already exists")
        }
        try run(
            """
            INSERT INTO join_tokens (id, secret_sha256, labels, created_at, expires_at, used_at, used_by)
            VALUES (?, ?, ?, ?, ?, NULL, NULL)
            """, operation: "create join token",
            [
                .text(record.id), .text(record.secretSHA256), .text(record.labels), .integer(record.createdAt),
                .integer(record.expiresAt),
            ])
    }

    private func consumeJoinToken(
        id: String, secretSHA256: String, agent: String, now: Int64
    ) throws(StoreError) {
        let operation = "consume join token \(id)"
        let token = try queryFirst(
            "SELECT secret_sha256, expires_at, used_at FROM join_tokens WHERE id = ?", operation: operation,
            [.text(id)]
        ) { (secretSHA256: $0.text(0), expiresAt: $0.int64(1), usedAt: $0.optionalInt64(2)) }

        // An unknown id and a wrong secret read the same, so that probing ids learns nothing.
        guard let token, constantTimeEqual(token.secretSHA256, secretSHA256) else {
            throw StoreError(
                code: .tokenUnknown, message: "store: \(operation): no such token, or the secret does not match")
        }
        if let usedAt = token.usedAt {
            throw StoreError(code: .tokenUsed, message: "store: \(operation): already used at \(usedAt)")
        }
        guard now < token.expiresAt else {
            throw StoreError(code: .tokenExpired, message: "store: \(operation): expired at \(token.expiresAt)")
        }

        try run(
            "UPDATE join_tokens SET used_at = ?, used_by = ? WHERE id = ?", operation: operation,
            [.integer(now), .text(agent), .text(id)])
    }

    private func registerAgent(_ record: AgentRecord) throws(StoreError) {
        // The WHERE clause turns a name held under another key into no change at all, which
        // the row count reveals; the same key updates everything but joined_at.
        let changed = try run(
            """
            INSERT INTO agents (name, public_key_sha256, labels, drivers, capacity, hostname, version,
                joined_at, last_seen_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (name) DO UPDATE SET
                labels = excluded.labels, drivers = excluded.drivers, capacity = excluded.capacity,
                hostname = excluded.hostname, version = excluded.version, last_seen_at = excluded.last_seen_at
            WHERE agents.public_key_sha256 = excluded.public_key_sha256
            """, operation: "register agent",
            [
                .text(record.name), .text(record.publicKeySHA256), .text(record.labels), .text(record.drivers),
                .integer(record.capacity), .text(record.hostname), .text(record.version), .integer(record.joinedAt),
                .integer(record.lastSeenAt),
            ])
        guard changed > 0 else {
            throw StoreError(
                code: .alreadyExists,
                message: "store: register agent \(record.name): already registered with a different public key")
        }
    }
}

/// Whether two strings are the same bytes, in a time that depends on their lengths only,
/// so that how long a wrong secret takes to be refused says nothing about how close it was.
private func constantTimeEqual(_ left: String, _ right: String) -> Bool {
    let left = Array(left.utf8)
    let right = Array(right.utf8)
    guard left.count == right.count else { return false }
    var difference: UInt8 = 0
    for index in left.indices { difference |= left[index] ^ right[index] }
    return difference == 0
}
