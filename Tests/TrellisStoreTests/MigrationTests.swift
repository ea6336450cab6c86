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
