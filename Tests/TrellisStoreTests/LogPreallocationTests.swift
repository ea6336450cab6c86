import Foundation
import Testing
import TrellisStore

@Suite("A preallocated write-ahead log")
struct LogPreallocationTests {
    static let preallocated = SQLiteStore.preallocatedLogBytes(pageSize: 4096)

    @Test("the log is written out to the checkpoint's size at open, and commits fill it without growing it")
    func logStartsAtCheckpointSize() async throws {
        #expect(Self.preallocated == 32 + 4096 * (4096 + 24))
        try await withTemporaryDirectory { (directory) throws in
            let store = try await SQLiteStore.open(directory: directory, preallocatingLog: true)
            #expect(try logSize(directory) == Self.preallocated)
            // The transition log is written out too, to its own size.
            let transitions =
                try FileManager.default.attributesOfItem(
                    atPath: directory + "/" + SQLiteStore.fileName + "-transitions")[.size] as? Int
            #expect(transitions == SQLiteStore.preallocatedTransitionLogBytes)
            try await store.createEnvironment(sampleEnvironment("filled"))
            for index in 0..<200 {
                try await store.write(
                    StoreBatch(
                        [.upsertResource(sampleResource("r\(index)", in: "filled"))], durability: .written))
            }
            #expect(try logSize(directory) == Self.preallocated)
            #expect(try await store.resources(inEnvironment: "filled").count == 200)
            await store.close()

            let reopened = try await SQLiteStore.open(directory: directory, preallocatingLog: true)
            #expect(try await reopened.resources(inEnvironment: "filled").count == 200)
            #expect(try logSize(directory) == Self.preallocated)
            await reopened.close()
        }
    }

    @Test("without preallocation the log grows with its commits")
    func logGrowsWithoutPreallocation() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let store = try await SQLiteStore.open(directory: directory)
            try await store.createEnvironment(sampleEnvironment("grown"))
            let before = try logSize(directory)
            for index in 0..<50 {
                try await store.upsertResource(sampleResource("r\(index)", in: "grown"))
            }
            let after = try logSize(directory)
            #expect(before < after)
            #expect(after < Self.preallocated)
            await store.close()
        }
    }

    /// A copy of the files taken while the store is open is what a crash leaves: frames
    /// followed by the rest of the zeros. Opening it reads the frames and stops at the zeros.
    @Test("a log left with frames followed by zeros is read up to its last commit")
    func crashedLogIsReadUpToTheZeros() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let live = directory + "/live"
            let copy = directory + "/copy"
            let store = try await SQLiteStore.open(directory: live, preallocatingLog: true)
            try await store.createEnvironment(sampleEnvironment("kept"))
            for index in 0..<100 {
                try await store.upsertResource(sampleResource("r\(index)", in: "kept"))
            }
            try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
            for name in ["state.db", "state.db-wal"] {
                try FileManager.default.copyItem(atPath: live + "/" + name, toPath: copy + "/" + name)
            }
            await store.close()
            let frames = try Data(contentsOf: URL(fileURLWithPath: copy + "/state.db-wal"))
            #expect(frames.count == Self.preallocated)
            #expect(frames.suffix(4096).allSatisfy { $0 == 0 })

            let recovered = try await SQLiteStore.open(directory: copy, preallocatingLog: true)
            let names = Set(try await recovered.resources(inEnvironment: "kept").map(\.name))
            #expect(names == Set((0..<100).map { "r\($0)" }))
            try await recovered.upsertResource(sampleResource("after", in: "kept"))
            await recovered.close()

            let again = try await SQLiteStore.open(directory: copy)
            #expect(try await again.resources(inEnvironment: "kept").count == 101)
            await again.close()
        }
    }
}

private func logSize(_ directory: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/state.db-wal")
    return (attributes[.size] as? Int) ?? -1
}
