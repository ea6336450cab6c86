import Testing
import TrellisStore

#if canImport(Glibc)
import Glibc
#endif

@Suite("Durability classes")
struct DurabilityClassTests {
    @Test("written and flushed batches interleave, and both are there after a reopen")
    func writtenAndFlushed() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteStore.open(directory: directory)
            try await store.createEnvironment(sampleEnvironment("env"))
            for index in 0..<20 {
                let resource = sampleResource("r\(index)", in: "env")
                let durability: StoreDurability = index.isMultiple(of: 3) ? .flushed : .written
                try await store.write(StoreBatch([.upsertResource(resource)], durability: durability))
            }
            await store.close()

            let reopened = try await SQLiteStore.open(directory: directory)
            let names = try await reopened.resources(inEnvironment: "env").map(\.name)
            #expect(Set(names) == Set((0..<20).map { "r\($0)" }))
            await reopened.close()
        }
    }

    @Test("a lone writer's written batches commit on its own thread; flushed ones never do")
    func directCommits() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteStore.open(directory: directory)
            try await store.createEnvironment(sampleEnvironment("env"))
            let before = store.statistics
            for index in 0..<50 {
                try await store.write(
                    StoreBatch([.upsertResource(sampleResource("w\(index)", in: "env"))], durability: .written))
            }
            let afterWritten = store.statistics
            #expect(afterWritten.directCommits - before.directCommits == 50)
            #expect(afterWritten.commits - before.commits == 50)
            for index in 0..<10 {
                try await store.write(
                    StoreBatch([.upsertResource(sampleResource("f\(index)", in: "env"))], durability: .flushed))
            }
            #expect(store.statistics.directCommits == afterWritten.directCommits)
            #expect(try await store.resources(inEnvironment: "env").count == 60)
            await store.close()
        }
    }

    @Test("a failing written batch committed directly changes nothing and reports its error")
    func directCommitFailure() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteStore.open(directory: directory)
            let error = await #expect(throws: StoreError.self) {
                // No such environment: the foreign key refuses the resource.
                try await store.write(
                    StoreBatch([.upsertResource(sampleResource("orphan", in: "missing"))], durability: .written))
            }
            #expect(error?.code == .constraint)
            #expect(store.statistics.directCommits == 1)
            #expect(try await store.resources(inEnvironment: "missing").isEmpty)
            // The connection is usable again, by the database thread and directly.
            try await store.createEnvironment(sampleEnvironment("env"))
            try await store.write(
                StoreBatch([.upsertResource(sampleResource("r", in: "env"))], durability: .written))
            #expect(try await store.resources(inEnvironment: "env").map(\.name) == ["r"])
            await store.close()
        }
    }

    @Test("the write-ahead log is checkpointed on the database thread and starts over")
    func checkpoints() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteStore.open(directory: directory)
            try await store.createEnvironment(sampleEnvironment("env"))
            // Each commit adds at least one frame; 12,000 direct commits pass the
            // checkpoint threshold (4,096 frames) more than once, and without checkpoints
            // would leave a log of more than 48 MiB.
            for index in 0..<12_000 {
                // A changed row each time: SQLite writes no frame for a row rewritten as it was.
                var resource = sampleResource("r\(index % 500)", in: "env")
                resource.attempts = Int64(index)
                try await store.write(StoreBatch([.upsertResource(resource)], durability: .written))
            }
            // The checkpoint is queued by a direct commit and run by the database thread;
            // a read, which that thread runs after the jobs queued before it, waits for it.
            #expect(try await store.resources(inEnvironment: "env").count == 500)
            #expect(store.statistics.checkpoints >= 1)
            // A log that starts over stays near the threshold instead of growing with
            // every commit: 4,096 frames of 4 KiB each, with room for the commits that
            // arrive while a checkpoint is queued.
            var info = stat()
            #expect(stat(directory + "/state.db-wal", &info) == 0)
            #expect(info.st_size < 24 << 20, "WAL is \(info.st_size) bytes")
            await store.close()

            let reopened = try await SQLiteStore.open(directory: directory)
            #expect(try await reopened.resources(inEnvironment: "env").count == 500)
            await reopened.close()
        }
    }

    @Test("concurrent writers, some committing directly and some queued, each see their own writes in order")
    func directAndQueuedTogether() async throws {
        try await withTemporaryDirectory { directory in
            let store = try await SQLiteStore.open(directory: directory)
            try await store.createEnvironment(sampleEnvironment("env"))
            let writers = 100
            let rounds = 20
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        for round in 1...rounds {
                            var resource = sampleResource("w\(writer)", in: "env")
                            resource.attempts = Int64(round)
                            let durability: StoreDurability = round.isMultiple(of: 5) ? .flushed : .written
                            try await store.write(StoreBatch([.upsertResource(resource)], durability: durability))
                            // Read back what this writer wrote last: never an older round.
                            let stored = try await store.resource(inEnvironment: "env", named: "w\(writer)")
                            guard stored?.attempts == Int64(round) else {
                                throw StoreError(
                                    code: .database,
                                    message:
                                        "w\(writer) read \(String(describing: stored?.attempts)) after writing \(round)"
                                )
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let statistics = store.statistics
            #expect(statistics.batches == writers * rounds + 1)
            #expect(statistics.failedBatches == 0)
            let resources = try await store.resources(inEnvironment: "env")
            #expect(resources.count == writers)
            #expect(resources.allSatisfy { $0.attempts == Int64(rounds) })
            await store.close()
        }
    }
}
