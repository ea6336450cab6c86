import Testing
import TrellisStore

#if canImport(Glibc)
import Glibc
#endif

@Suite("Group commit")
struct GroupCommitTests {
    @Test("1,000 concurrent writers are all durable and share commits")
    func concurrentWriters() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let store = try await SQLiteStore.open(directory: directory)
            try await store.createEnvironment(sampleEnvironment("env"))
            let writers = 1000
            let sequences = try await withThrowingTaskGroup(of: Int64.self) { group in
                for index in 0..<writers {
                    group.addTask {
                        let result = try await store.write([
                            .upsertResource(sampleResource("r\(index)", in: "env")),
                            .appendJournal(journalDraft("env", "r\(index)", .intent)),
                        ])
                        guard case .journalSequence(let sequence) = result.outcomes[1] else { return -1 }
                        return sequence
                    }
                }
                return try await group.reduce(into: Set<Int64>()) { $0.insert($1) }
            }
            #expect(sequences == Set(1...Int64(writers)))
            let statistics = store.statistics
            // One commit for the environment, then far fewer than one per writer.
            #expect(statistics.batches == writers + 1)
            #expect(statistics.commits < writers / 2)
            await store.close()

            let reopened = try await SQLiteStore.open(directory: directory)
            #expect(try await reopened.resources(inEnvironment: "env").count == writers)
            #expect(try await reopened.unfinishedWork(ofEnvironment: "env").count == writers)
            await reopened.close()
        }
    }

    @Test("every transition of 10,000 resources is persisted, four writes each")
    func engineShapedLoad() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let store = try await SQLiteStore.open(directory: directory)
            try await store.createEnvironment(sampleEnvironment("wide"))
            let resources = Int(getenv("TRELLIS_STORE_RESOURCES").flatMap { Int(String(cString: $0)) } ?? 10_000)

            // One writer at a time: every write waits for its own commit and fsync.
            let sequentialStart = ContinuousClock.now
            for index in 0..<100 {
                try await store.write([.appendJournal(journalDraft("sequential", "r\(index)", .intent))])
            }
            let sequential = seconds(ContinuousClock.now - sequentialStart)
            print(
                "store sequential: 100 writes, \(Int(sequential * 1000)) ms: \(Int(100 / sequential)) commits (fsyncs)/s"
            )

            let before = store.statistics
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<resources {
                    group.addTask {
                        let name = "r\(index)"
                        var resource = sampleResource(name, in: "wide")
                        try await store.write([.upsertResource(resource)])
                        try await store.write([.appendJournal(journalDraft("wide", name, .intent))])
                        resource.phase = "Applying"
                        resource.attempts = 1
                        try await store.write([
                            .upsertResource(resource), .appendJournal(journalDraft("wide", name, .started)),
                        ])
                        resource.phase = "Ready"
                        resource.outputs = #"{"id":"\#(name)"}"#
                        try await store.write([
                            .upsertResource(resource), .appendJournal(journalDraft("wide", name, .succeeded)),
                        ])
                    }
                }
                try await group.waitForAll()
            }
            let elapsed = ContinuousClock.now - start
            let after = store.statistics
            let batches = after.batches - before.batches
            let commits = after.commits - before.commits
            let seconds = seconds(elapsed)
            print(
                "store throughput: \(resources) resources, \(batches) batches in \(commits) commits, "
                    + "\(Int(seconds * 1000)) ms: \(Int(Double(batches) / seconds)) writes/s, "
                    + "\(Int(Double(commits) / seconds)) commits (fsyncs)/s, "
                    + "\(Double(Int(Double(batches) / Double(commits) * 10)) / 10) batches per commit, "
                    + "largest commit \(after.largestCommit)")

            #expect(batches == resources * 4)
            #expect(try await store.unfinishedWork(ofEnvironment: "wide").isEmpty)
            #expect(try await store.environments(matching: .all).count == 1)
            let ready = try await store.resources(inEnvironment: "wide").filter { $0.phase == "Ready" }
            #expect(ready.count == resources)
            await store.close()
        }
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
