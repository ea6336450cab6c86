import Foundation
import Testing
import TrellisStore

#if canImport(Glibc)
import Glibc
#endif

/// A writer process killed with SIGKILL loses nothing it was told was durable.
///
/// The child is this test binary again, running only ``childWriter()``: it writes batches
/// from several tasks and prints `ack N` after each write returns, until it is killed. The
/// parent kills it mid-stream, reopens the database and looks for every acknowledged batch.
@Suite("Durability across a killed process")
struct CrashDurabilityTests {
    static let directoryVariable = "TRELLIS_STORE_CRASH_CHILD_DIRECTORY"
    static let preallocateVariable = "TRELLIS_STORE_CRASH_CHILD_PREALLOCATE"
    static let writersPerChild = 9

    /// With a preallocated log the child's frames land on zeros written at open, and the
    /// reopening reads the log up to the first frame that does not check out. Logged
    /// batches the child's database thread had not applied come back from the transition
    /// log when the store reopens.
    @Test("every write acknowledged before SIGKILL is there after reopening", arguments: [false, true])
    func killedWriterLosesNothingAcknowledged(preallocatingLog: Bool) async throws {
        try await withTemporaryDirectory { (directory) throws in
            let output = AckLines()
            let child = Process()
            child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            child.arguments = [
                "--testing-library", "swift-testing", "--filter", "CrashDurabilityTests/childWriter",
            ]
            child.environment = ProcessInfo.processInfo.environment.merging([
                Self.directoryVariable: directory, Self.preallocateVariable: preallocatingLog ? "1" : "0",
            ]) { $1 }
            let pipe = Pipe()
            child.standardOutput = pipe
            child.standardError = FileHandle.nullDevice
            try child.run()
            // Read on a thread of its own until EOF, which comes once the child is dead.
            let reader = pipe.fileHandleForReading
            Thread { output.readToEnd(reader.fileDescriptor) }.start()

            // Kill it in the middle of a stream of writes, well after it started.
            let deadline = ContinuousClock.now + .seconds(240)
            while output.acknowledged.count < 2000 && child.isRunning && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            let drainDeadline = ContinuousClock.now + .seconds(30)
            while !output.ended && ContinuousClock.now < drainDeadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(output.ended, "the child's output never reached EOF")
            #expect(child.terminationReason == .uncaughtSignal)

            let acknowledged = output.acknowledged
            try #require(acknowledged.count >= 2000, "the child acknowledged only \(acknowledged.count) writes")

            if preallocatingLog {
                // The log the child was killed with: at least its preallocated size.
                let logSize = try FileManager.default.attributesOfItem(atPath: directory + "/state.db-wal")[.size]
                #expect(((logSize as? Int) ?? 0) >= SQLiteStore.preallocatedLogBytes(pageSize: 4096))
            }
            let store = try await SQLiteStore.open(directory: directory, preallocatingLog: preallocatingLog)
            let stored = Set(try await store.resources(inEnvironment: "crash").map(\.name))
            let journal = try await store.journal(ofEnvironment: "crash", after: nil)
            await store.close()
            let missing = acknowledged.filter { !stored.contains($0) }
            #expect(missing.isEmpty, "acknowledged but lost: \(missing.prefix(10))")
            #expect(acknowledged.contains { $0.hasPrefix("logged") }, "no logged batch was acknowledged")
            // Resource and journal entry were one batch: never one without the other.
            #expect(Set(journal.compactMap(\.resource)) == stored.filter { !$0.hasPrefix("logged") })
        }
    }

    @Test(
        "child writer of the crash test",
        .enabled(if: ProcessInfo.processInfo.environment[directoryVariable] != nil))
    func childWriter() async throws {
        let directory = try #require(ProcessInfo.processInfo.environment[Self.directoryVariable])
        let preallocatingLog = ProcessInfo.processInfo.environment[Self.preallocateVariable] == "1"
        let store = try await SQLiteStore.open(directory: directory, preallocatingLog: preallocatingLog)
        try await store.createEnvironment(sampleEnvironment("crash"))
        print("ready")
        // Writes until killed; the bound only matters if the parent died first, and is far
        // past the parent's wait, for a machine that runs every test at once.
        let stop = ContinuousClock.now + .seconds(300)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<Self.writersPerChild {
                group.addTask {
                    var index = 0
                    while ContinuousClock.now < stop {
                        // A third of the writers ask only that the operating system has
                        // their batches, which is enough to survive SIGKILL: those commit on
                        // the writer's thread whenever the connection is idle. A third log
                        // theirs: acknowledged once in the transition log, applied later.
                        let durability: StoreDurability = [.written, .flushed, .logged][writer % 3]
                        let name = durability == .logged ? "logged\(writer)-\(index)" : "w\(writer)-\(index)"
                        let resource = StoreMutation.upsertResource(sampleResource(name, in: "crash"))
                        try await store.write(
                            StoreBatch(
                                durability == .logged
                                    ? [resource] : [resource, .appendJournal(journalDraft("crash", name, .intent))],
                                durability: durability))
                        // One write(2) per line: lines from several tasks never interleave.
                        let line = Array("ack \(name)\n".utf8)
                        _ = line.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
                        index += 1
                    }
                }
            }
            try await group.waitForAll()
        }
        await store.close()
    }
}

/// The `ack NAME` lines a child printed, collected from its pipe.
private final class AckLines: @unchecked Sendable {
    // @unchecked Sendable: `buffer` and `names` are only touched with `lock` held. An NSLock
    // (a pthread mutex) rather than a Mutex, which ThreadSanitizer does not see through on
    // Linux and would report as a race between the reading thread and the test.
    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var names: [String] = []

    private var reachedEnd = false

    /// Reads `descriptor` until EOF, keeping the lines.
    func readToEnd(_ descriptor: Int32) {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                append(chunk[..<count])
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        lock.withLock { reachedEnd = true }
    }

    /// Whether the reader saw EOF (or a read error).
    var ended: Bool { lock.withLock { reachedEnd } }

    private func append(_ data: ArraySlice<UInt8>) {
        lock.withLock {
            buffer.append(contentsOf: data)
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                if line.hasPrefix("ack ") { names.append(String(line.dropFirst(4))) }
            }
        }
    }

    var acknowledged: [String] { lock.withLock { names } }
}
