import Foundation
import Testing

@testable import TrellisStore

@Suite("Schema migrations")
struct MigrationTests {
    @Test("an empty directory is migrated to the latest schema and reopens without migrating again")
    func migratesFromEmptyAndReopens() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let store = try await SQLiteStore.open(directory: directory)
            #expect(store.path == directory + "/state.db")
            try await store.createEnvironment(sampleEnvironment("kept"))
            await store.close()

            let reopened = try await SQLiteStore.open(directory: directory)
            #expect(try await reopened.environment(named: "kept")?.revision == 1)
            await reopened.close()
        }
    }

    @Test("a missing data directory is created")
    func createsDataDirectory() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let nested = directory + "/a/b/data"
            let store = try await SQLiteStore.open(directory: nested)
            await store.close()
            #expect(FileManager.default.fileExists(atPath: nested + "/state.db"))
        }
    }

    @Test("an older database is brought up to date by the migrations it lacks")
    func appliesPendingMigrations() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let path = directory + "/state.db"
            let old = try await SQLiteStore.open(path: path, migrations: Schema.migrations)
            try await old.createEnvironment(sampleEnvironment("before"))
            await old.close()

            let extra = Migration(
                version: Schema.latestVersion + 1, name: "notes",
                sql: "CREATE TABLE notes (environment TEXT NOT NULL, text TEXT NOT NULL)")
            let upgraded = try await SQLiteStore.open(
                path: path, migrations: Schema.migrations + [extra])
            #expect(try await upgraded.environment(named: "before") != nil)
            await upgraded.close()
        }
    }

    @Test("a version 1 database with data is migrated to the latest version and keeps its data")
    func migratesVersion1WithData() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let path = directory + "/state.db"
            let version1 = try await SQLiteStore.open(path: path, migrations: Array(Schema.migrations.prefix(1)))
            try await version1.createEnvironment(sampleEnvironment("env"))
            let sequence = try await version1.appendJournal(journalDraft("env", "db", .intent))
            _ = try await version1.putDocument(
                CatalogDocumentDraft(kind: "Template", name: "t", body: "{}", createdAt: 1))
            await version1.close()

            // Version 1 has no health columns, so its resources are written as version 1 did.
            let connection = try SQLiteConnection(path: path)
            try connection.run(
                """
                INSERT INTO resources (environment, name, type, driver, params, dependencies, phase, outputs,
                    secret_output_keys, attempts, started_at, finished_at, last_error, agent)
                VALUES ('env', 'db', 'noop', 'noop', '{}', '[]', 'Ready', '{"password":"p"}', '["password"]', 3,
                    10, 20, NULL, 'host-1')
                """, operation: "seed version 1 resource")
            connection.close()

            let store = try await SQLiteStore.open(path: path)
            var environment = sampleEnvironment("env")
            environment.revision = 1
            #expect(try await store.environment(named: "env") == environment)
            #expect(try await store.journal(ofEnvironment: "env", after: nil).map(\.sequence) == [sequence])
            #expect(try await store.document(kind: "Template", name: "t")?.version == 1)
            let expected = ResourceRecord(
                environment: "env", name: "db", type: "noop", driver: "noop", phase: "Ready",
                outputs: #"{"password":"p"}"#, secretOutputKeys: ["password"], attempts: 3, startedAt: 10,
                finishedAt: 20, agent: "host-1")
            #expect(try await store.resource(inEnvironment: "env", named: "db") == expected)
            #expect(try await store.resources(onAgent: "host-1") == [expected])

            // The new tables are there and writable.
            try await store.registerAgent(sampleAgent("host-1"))
            try await store.createJoinToken(sampleToken("tok-1"))
            #expect(try await store.agents() == [sampleAgent("host-1")])
            await store.close()

            let check = try SQLiteConnection(path: path)
            defer { check.close() }
            let version = try check.queryFirst("SELECT MAX(version) FROM schema_migrations", operation: "check") {
                $0.int64(0)
            }
            #expect(version == Schema.latestVersion)
            let index = try check.queryFirst(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'resources' AND name = ?",
                operation: "check", [.text("resources_by_agent")]
            ) { $0.text(0) }
            // Partial: resources the coordinator runs itself (no agent) are not in it, so
            // their transitions leave it alone.
            #expect(index?.hasSuffix("WHERE agent IS NOT NULL") == true)
            let plan = try check.queryFirst(
                "EXPLAIN QUERY PLAN SELECT name FROM resources WHERE agent = ?", operation: "check", [.text("host-1")]
            ) { $0.text(3) }
            #expect(plan?.contains("resources_by_agent") == true)
        }
    }

    @Test("a database with a newer schema than this build knows is refused")
    func refusesNewerSchema() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let path = directory + "/state.db"
            let future = Migration(version: Schema.latestVersion + 1, name: "future", sql: "CREATE TABLE future (x)")
            let newer = try await SQLiteStore.open(
                path: path, migrations: Schema.migrations + [future])
            await newer.close()

            let error = await #expect(throws: StoreError.self) {
                try await SQLiteStore.open(path: path)
            }
            #expect(error?.code == .schemaTooNew)
            #expect(error?.message.contains("schema version \(Schema.latestVersion + 1)") == true)
        }
    }

    @Test("a failing migration leaves the database at the previous version")
    func failedMigrationRollsBack() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let path = directory + "/state.db"
            let broken = Migration(
                version: Schema.latestVersion + 1, name: "broken",
                sql: "CREATE TABLE half (x); INSERT INTO no_such_table VALUES (1)")
            let error = await #expect(throws: StoreError.self) {
                try await SQLiteStore.open(path: path, migrations: Schema.migrations + [broken])
            }
            #expect(error?.code == .migration)
            #expect(error?.message.contains("no such table: no_such_table") == true)

            // The good migrations stuck, the broken one left nothing: a retry with a fixed
            // migration of the same version succeeds.
            let fixed = Migration(version: Schema.latestVersion + 1, name: "fixed", sql: "CREATE TABLE half (x)")
            let store = try await SQLiteStore.open(
                path: path, migrations: Schema.migrations + [fixed])
            await store.close()
        }
    }
}
