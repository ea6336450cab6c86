import Foundation
import Testing

@testable import TrellisStore

@Suite("The transition log")
struct TransitionLogTests {
    static func finished(_ name: String, in environment: String) -> ResourceRecord {
        var record = sampleResource(name, in: environment, phase: "Ready")
        record.outputs = #"{"url":"http://db"}"#
        record.attempts = 1
        record.startedAt = 1_700_000_000_000
        record.finishedAt = 1_700_000_000_500
        return record
    }

    static func fileSize(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
    }

    /// Writes records into the log file of the database at `databasePath` as a store
    /// would have, numbered from `after + 1`.
    static func writeLog(_ databasePath: String, after: UInt64, _ batches: [[StoreMutation]]) throws {
        let log = try TransitionLog(databasePath: databasePath, applied: after, preallocatedBytes: nil)
        for mutations in batches {
            try log.append(mutations, refusal: StoreError(code: .closed, message: "closed")) { _ in true }
        }
    }

    /// The path of a closed database in `directory` with the environment `env`.
    static func databaseWithEnvironment(in directory: String) async throws -> String {
        let path = directory + "/" + SQLiteStore.fileName
        let store = try await SQLiteStore.open(path: path)
        try await store.createEnvironment(sampleEnvironment("env"))
        await store.close()
        return path
    }

    @Test("a logged write is read back as soon as it returns, and the log starts over once the database has it")
    func loggedWritesAreReadBack() async throws {
        try await withStore { store, directory in
            try await store.createEnvironment(sampleEnvironment("env"))
            for index in 0..<500 {
                let name = "r\(index)"
                try await store.write(
                    StoreBatch([.upsertResource(sampleResource(name, in: "env"))], durability: .logged))
                try await store.write(
                    StoreBatch([.finishResource(Self.finished(name, in: "env"))], durability: .logged))
                #expect(try await store.resource(inEnvironment: "env", named: name)?.phase == "Ready")
            }
            #expect(try await store.resources(inEnvironment: "env").count == 500)
            #expect(store.statistics.loggedBatches == 1000)
            // The read above came after every logged batch, so all are applied: the next
            // record goes at the start of the file again.
            #expect(store.transitionLogOffset == 0)
            // Each round's reads found the log applied, so it never held more than a round.
            #expect(try Self.fileSize(TransitionLog.path(forDatabase: directory + "/" + SQLiteStore.fileName)) < 1000)
            try await store.write(
                StoreBatch(
                    [.setResourceDrift(environment: "env", name: "r0", drift: "port changed")], durability: .logged))
            #expect(try await store.resource(inEnvironment: "env", named: "r0")?.drift == "port changed")
        }
    }

    @Test("a store opening applies the logged batches its database lacks, then empties the log")
    func recoveryAppliesWhatTheDatabaseLacks() async throws {
        try await withTemporaryDirectory { directory in
            let path = try await Self.databaseWithEnvironment(in: directory)

            // What a process killed before its database thread got to them leaves.
            try Self.writeLog(
                path, after: 0,
                [
                    [.upsertResource(sampleResource("db", in: "env"))],
                    [
                        .finishResource(Self.finished("db", in: "env")),
                        .upsertResource(sampleResource("api", in: "env")),
                    ],
                    [.setResourceDrift(environment: "env", name: "db", drift: "size changed")],
                ])
            let second = try await SQLiteStore.open(path: path)
            let db = try await second.resource(inEnvironment: "env", named: "db")
            #expect(db?.phase == "Ready")
            #expect(db?.outputs == #"{"url":"http://db"}"#)
            #expect(db?.drift == "size changed")
            #expect(try await second.resource(inEnvironment: "env", named: "api")?.phase == "Pending")
            #expect(try Self.fileSize(TransitionLog.path(forDatabase: path)) == 0)

            // Removed after it was applied: replaying its records again would bring it back.
            try await second.write([.deleteResource(environment: "env", name: "db")])
            await second.close()
            try Self.writeLog(
                path, after: 0,
                [
                    [.upsertResource(sampleResource("db", in: "env"))],
                    [.finishResource(Self.finished("db", in: "env"))],
                    [.setResourceDrift(environment: "env", name: "db", drift: "size changed")],
                    [.upsertResource(sampleResource("cache", in: "env"))],
                ])
            let third = try await SQLiteStore.open(path: path)
            #expect(try await third.resource(inEnvironment: "env", named: "db") == nil)
            #expect(try await third.resource(inEnvironment: "env", named: "cache") != nil)
            await third.close()
        }
    }

    @Test("reading the log stops at a damaged record, at a gap, and at records left from before it started over")
    func recoveryStopsWhereTheLogStopsCheckingOut() async throws {
        try await withTemporaryDirectory { directory in
            let path = try await Self.databaseWithEnvironment(in: directory)
            let logPath = TransitionLog.path(forDatabase: path)
            let batches: [[StoreMutation]] = ["a", "b", "c"].map { [.upsertResource(sampleResource($0, in: "env"))] }

            // A flipped byte in the second record's payload: only the first is taken.
            try Self.writeLog(path, after: 0, batches)
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: logPath)))
            let recordLength = bytes.count / 3
            bytes[recordLength + TransitionLog.headerBytes + 5] ^= 0xFF
            try Data(bytes).write(to: URL(fileURLWithPath: logPath))
            let damaged = try TransitionLog.recover(logPath, applied: 0)
            #expect(damaged.batches.map(\.sequence) == [1])
            #expect(damaged.damaged?.contains("checksum") == true)

            // Numbered from 3 when the database has applied only 1: none is taken.
            try Self.writeLog(path, after: 2, batches)
            let gap = try TransitionLog.recover(logPath, applied: 1)
            #expect(gap.batches.isEmpty)
            #expect(gap.damaged?.contains("gap") == true)

            // The file started over: batch 7 over the first record, the old 2 and 3 after it.
            try Self.writeLog(path, after: 0, batches)
            var restarted = try [UInt8](Data(contentsOf: URL(fileURLWithPath: logPath)))
            let log = try TransitionLog(databasePath: directory + "/other.db", applied: 6, preallocatedBytes: nil)
            try log.append(batches[0], refusal: StoreError(code: .closed, message: "closed")) { _ in true }
            let newer = try [UInt8](Data(contentsOf: URL(fileURLWithPath: log.path)))
            #expect(newer.count == recordLength)
            restarted.replaceSubrange(0..<recordLength, with: newer)
            try Data(restarted).write(to: URL(fileURLWithPath: logPath))
            let over = try TransitionLog.recover(logPath, applied: 6)
            #expect(over.batches.map(\.sequence) == [7])
            #expect(over.damaged == nil)

            // Zeros (a preallocated file) end the log quietly; a missing file holds nothing.
            #expect(try TransitionLog.recover(directory + "/missing", applied: 0).batches.isEmpty)
        }
    }

    @Test("a logged batch with more than resource transitions is written like a written one, all at once")
    func onlyTransitionsAreLogged() async throws {
        try await withStore { store, _ in
            try await store.createEnvironment(sampleEnvironment("env"))
            let result = try await store.write(
                StoreBatch(
                    [
                        .upsertResource(sampleResource("db", in: "env")),
                        .appendJournal(journalDraft("env", "db", .intent)),
                    ], durability: .logged))
            guard case .journalSequence = result.outcomes.last else {
                Issue.record("the journal's outcome is \(result.outcomes)")
                return
            }
            #expect(try await store.resources(inEnvironment: "env").map(\.name) == ["db"])
            #expect(try await store.journal(ofEnvironment: "env", after: nil).count == 1)
            #expect(store.statistics.loggedBatches == 0)
            #expect(store.transitionLogOffset == 0)
        }
    }

    @Test("a logged batch the database refuses is dropped, and the store goes on")
    func refusedBatchIsDropped() async throws {
        try await withStore { store, _ in
            try await store.createEnvironment(sampleEnvironment("env"))
            // No environment "gone": the row's foreign key fails when it is applied.
            try await store.write(StoreBatch([.upsertResource(sampleResource("db", in: "gone"))], durability: .logged))
            try await store.write(StoreBatch([.upsertResource(sampleResource("db", in: "env"))], durability: .logged))
            #expect(try await store.resources(inEnvironment: "gone").isEmpty)
            #expect(try await store.resources(inEnvironment: "env").map(\.name) == ["db"])
            #expect(store.statistics.failedBatches == 1)
            #expect(store.transitionLogOffset == 0)
        }
    }

    /// Lets the database grow no further than it is, or as far as SQLite allows again.
    static func limitPages(_ store: SQLiteStore, _ limited: Bool) async throws {
        try await store.withConnection { connection in
            let pages = try connection.queryFirst("PRAGMA page_count", operation: "test") { $0.int64(0) } ?? 1
            _ = try connection.queryFirst(
                "PRAGMA max_page_count = \(limited ? pages : 1_073_741_823)", operation: "test"
            ) { $0.int64(0) }
        }
    }

    static func bigResource() -> ResourceRecord {
        var record = sampleResource("big", in: "env")
        record.params = #"{"blob":""# + String(repeating: "x", count: 200_000) + #""}"#
        return record
    }

    @Test("a logged batch the database cannot take yet (it is full) stays logged and lands once there is room")
    func fullDatabaseIsTriedAgain() async throws {
        try await withStore { store, _ in
            try await store.createEnvironment(sampleEnvironment("env"))
            try await Self.limitPages(store, true)
            let big = Self.bigResource()
            try await store.write(StoreBatch([.upsertResource(big)], durability: .logged))
            // Acknowledged and in the log; the database does not have it, and reads go on.
            #expect(try await store.resource(inEnvironment: "env", named: "big") == nil)
            #expect((store.transitionLogOffset ?? 0) > 0)

            try await Self.limitPages(store, false)
            // Read once more after every wait, the last one included, however late it ends.
            let deadline = ContinuousClock.now + .seconds(60)
            var landed = try await store.resource(inEnvironment: "env", named: "big")
            while landed == nil && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
                landed = try await store.resource(inEnvironment: "env", named: "big")
            }
            #expect(landed?.params == big.params)
            #expect(store.transitionLogOffset == 0)
        }
    }

    @Test("a logged batch still waiting for room when the store closes is applied when it opens again")
    func fullDatabaseAtCloseIsReplayed() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteStore.open(directory: directory)
            try await store.createEnvironment(sampleEnvironment("env"))
            try await Self.limitPages(store, true)
            let big = Self.bigResource()
            try await store.write(StoreBatch([.upsertResource(big)], durability: .logged))
            #expect(try await store.resource(inEnvironment: "env", named: "big") == nil)
            await store.close()

            let reopened = try await SQLiteStore.open(directory: directory)
            #expect(try await reopened.resource(inEnvironment: "env", named: "big")?.params == big.params)
            await reopened.close()
        }
    }

    @Test("a schema without the log's table writes logged batches like written ones")
    func olderSchemaHasNoLog() async throws {
        try await withTemporaryDirectory { directory in
            let path = directory + "/" + SQLiteStore.fileName
            let store = try await SQLiteStore.open(path: path, migrations: Array(Schema.migrations.prefix(3)))
            try await store.createEnvironment(sampleEnvironment("env"))
            try await store.write(StoreBatch([.upsertResource(sampleResource("db", in: "env"))], durability: .logged))
            #expect(try await store.resources(inEnvironment: "env").map(\.name) == ["db"])
            #expect(store.transitionLogOffset == nil)
            #expect(store.statistics.loggedBatches == 0)
            #expect(!FileManager.default.fileExists(atPath: TransitionLog.path(forDatabase: path)))
            await store.close()
        }
    }

    @Test("every field of a logged record comes back as it was written")
    func codingRoundTrip() throws {
        var full = Self.finished("api", in: "préview-ünïcode")
        full.secretOutputKeys = ["password", "token"]
        full.lastError = "timed out\nafter 3 s"
        full.agent = "host-1"
        full.health = "Healthy"
        full.healthMessage = "ok"
        full.drift = "image changed"
        let bare = ResourceRecord(
            environment: "", name: "", type: "", driver: "", params: "", dependencies: "", phase: "")
        let mutations: [StoreMutation] = [
            .upsertResource(full), .finishResource(bare), .setResourceDrift(environment: "e", name: "n", drift: ""),
        ]
        let payload = TransitionCoding.encode(mutations)
        #expect(TransitionCoding.decode(payload[...]) == mutations)
        // Every truncation, and a byte too many, is not a payload.
        for length in 0..<payload.count { #expect(TransitionCoding.decode(payload[0..<length]) == nil) }
        #expect(TransitionCoding.decode((payload + [0])[...]) == nil)
    }
}
