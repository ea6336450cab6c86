import Testing
import TrellisStore

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
}
