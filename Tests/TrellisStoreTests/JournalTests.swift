import Testing
import TrellisStore

@Suite("The intent journal")
struct JournalTests {
    @Test("unfinished work survives closing and reopening the store")
    func unfinishedWorkAfterReopen() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let store = try await SQLiteStore.open(directory: directory)
            try await store.createEnvironment(sampleEnvironment("env"))
            // db: done. config: intended only. api: started. port: failed for good.
            for (resource, transitions) in [
                ("db", [JournalTransition.intent, .started, .succeeded]),
                ("config", [.intent]),
                ("api", [.intent, .started]),
                ("port", [.intent, .started, .failed]),
            ] {
                for transition in transitions {
                    try await store.appendJournal(journalDraft("env", resource, transition))
                }
            }
            await store.close()

            let reopened = try await SQLiteStore.open(directory: directory)
            let work = try await reopened.unfinishedWork(ofEnvironment: "env")
            #expect(work.map(\.intent.resource) == ["config", "api"])
            #expect(work.map(\.latest.transition) == [.intent, .started])
            #expect(work.allSatisfy { $0.intent.payload == #"{"step":"intent"}"# })
            #expect(try await reopened.environmentsWithUnfinishedWork() == ["env"])
            await reopened.close()
        }
    }

    @Test("an operation intended again after it finished is unfinished again")
    func reintended() async throws {
        try await withStore { (store, _) throws in
            for transition in [JournalTransition.intent, .succeeded, .intent] {
                try await store.appendJournal(journalDraft("env", "db", transition))
            }
            // An environment-level delete, in flight.
            try await store.appendJournal(journalDraft("env", nil, .intent, operation: "delete"))
            let work = try await store.unfinishedWork(ofEnvironment: "env")
            #expect(work.map(\.intent.sequence) == [3, 4])
            #expect(work.map(\.intent.resource) == ["db", nil])
            #expect(try await store.unfinishedWork(ofEnvironment: "other").isEmpty)
        }
    }

    @Test("sequence numbers increase and the journal reads from a given sequence")
    func sequences() async throws {
        try await withStore { (store, _) throws in
            var sequences: [Int64] = []
            for transition in [JournalTransition.intent, .started, .succeeded] {
                sequences.append(try await store.appendJournal(journalDraft("env", "db", transition)))
            }
            #expect(sequences == [1, 2, 3])
            #expect(try await store.journal(ofEnvironment: "env", after: 1).map(\.sequence) == [2, 3])
            let entry = try #require(try await store.journal(ofEnvironment: "env", after: nil).first)
            #expect(
                entry
                    == JournalEntry(
                        sequence: 1, environment: "env", resource: "db", operation: "apply", transition: .intent,
                        payload: #"{"step":"intent"}"#, time: 1_700_000_000_000))
        }
    }

    @Test("compaction drops finished operations, keeps unfinished ones, and never reuses sequence numbers")
    func compaction() async throws {
        try await withStore { (store, _) throws in
            for transition in [JournalTransition.intent, .started, .succeeded] {
                try await store.appendJournal(journalDraft("env", "db", transition))
            }
            try await store.appendJournal(journalDraft("env", "api", .intent))
            try await store.appendJournal(journalDraft("env", "api", .started))
            for transition in [JournalTransition.intent, .failed] {
                try await store.appendJournal(journalDraft("other", "x", transition))
            }

            #expect(try await store.compactJournal(environment: "env") == 3)
            #expect(try await store.journal(ofEnvironment: "env", after: nil).map(\.resource) == ["api", "api"])
            #expect(try await store.journal(ofEnvironment: "other", after: nil).count == 2)
            #expect(try await store.unfinishedWork(ofEnvironment: "env").map(\.intent.resource) == ["api"])

            #expect(try await store.compactJournal(environment: nil) == 2)
            #expect(try await store.journal(ofEnvironment: "other", after: nil).isEmpty)
            let next = try await store.appendJournal(journalDraft("other", "x", .intent))
            #expect(next == 8)
        }
    }
}
