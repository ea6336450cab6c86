import Foundation
import Testing
import TrellisStore

@Suite("Files that are not healthy databases")
struct FileErrorTests {
    @Test("a file that is not SQLite is refused with a clear error")
    func refusesNonSQLiteFile() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let path = directory + "/state.db"
            try Data(String(repeating: "this is not a database\n", count: 200).utf8).write(
                to: URL(fileURLWithPath: path))

            let error = await #expect(throws: StoreError.self) {
                try await SQLiteStore.open(path: path)
            }
            #expect(error?.code == .notADatabase)
            #expect(error?.message.contains(path) == true)
            #expect(error?.message.contains("file is not a database") == true)
        }
    }

    @Test("a database whose schema page is damaged is refused with a clear error")
    func refusesCorruptDatabase() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let path = directory + "/state.db"
            let store = try await SQLiteStore.open(path: path)
            try await store.createEnvironment(sampleEnvironment("doomed"))
            await store.close()

            // Keep the 100-byte header, overwrite the rest of page 1 (the schema table).
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.seek(toOffset: 100)
            try handle.write(contentsOf: Data(repeating: 0xA5, count: 3996))
            try handle.close()

            let error = await #expect(throws: StoreError.self) {
                try await SQLiteStore.open(path: path)
            }
            #expect(error?.code == .corrupt)
            #expect(error?.message.contains("malformed") == true)
        }
    }

    @Test("a directory that cannot be created gives an error naming it")
    func reportsUncreatableDirectory() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let file = directory + "/plain-file"
            try Data("x".utf8).write(to: URL(fileURLWithPath: file))
            let error = await #expect(throws: StoreError.self) {
                try await SQLiteStore.open(directory: file + "/data")
            }
            #expect(error?.code == .io)
            #expect(error?.message.contains(file + "/data") == true)
        }
    }

    @Test("a database open in one store cannot be opened by another until it is closed")
    func refusesSecondOpener() async throws {
        try await withTemporaryDirectory { (directory) throws in
            let path = directory + "/state.db"
            let owner = try await SQLiteStore.open(path: path)
            try await owner.createEnvironment(sampleEnvironment("owned"))

            let error = await #expect(throws: StoreError.self) {
                try await SQLiteStore.open(path: path)
            }
            #expect(error?.code == .busy)
            #expect(error?.message.contains("\(path) is in use by another process") == true)
            // The refused opener changed nothing: the owner goes on writing.
            try await owner.createEnvironment(sampleEnvironment("still-owned"))
            await owner.close()

            let next = try await SQLiteStore.open(path: path)
            #expect(try await next.environments(matching: .all).map(\.name).sorted() == ["owned", "still-owned"])
            await next.close()
        }
    }
}
