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
        case .deleteResource(let environment, let name):
            let removed = try run(
                "DELETE FROM resources WHERE environment = ? AND name = ?", operation: "delete resource",
                [.text(environment), .text(name)])
            return .removed(removed)
        case .appendJournal(let draft):
            return .journalSequence(try appendJournal(draft))
        case .compactJournal(let environment):
            return .removed(try compactJournal(environment: environment))
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

    private func upsertResource(_ record: ResourceRecord) throws(StoreError) {
        try run(
            """
            INSERT INTO resources (environment, name, type, driver, params, dependencies, phase, outputs,
                secret_output_keys, attempts, started_at, finished_at, last_error, agent)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
                .optional(record.agent),
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
