import Foundation
import Glibc
import Testing

@testable import TrellisDrivers

/// The exit status of `pid`, once it has ended.
private func exitStatus(of pid: pid_t) -> Int32? {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { return nil }
    }
    // WIFEXITED / WEXITSTATUS, which the Glibc module does not import as functions.
    return status & 0x7F == 0 ? (status >> 8) & 0xFF : nil
}

@Suite("Starting programs")
struct SpawnerTests {
    private func directory() throws -> String {
        let path = FileManager.default.temporaryDirectory.path + "/spawner-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test("a program started held runs once released, with descriptors 0, 1 and 2 only")
    func releasedRuns() throws {
        let directory = try directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spawned = try Spawner.spawn(
            argv: ["/bin/sh", "-c", "ls /proc/self/fd > fds; touch ran"], environment: ["PATH=/usr/bin:/bin"],
            directory: directory, limits: ProcessSpec.Limits(), captureOutput: false, held: true)
        #expect(spawned.hold != nil)
        Spawner.release(spawned)
        #expect(exitStatus(of: spawned.pid) == 0)
        #expect(FileManager.default.fileExists(atPath: directory + "/ran"))
        // The listing's own descriptor for the directory is the 3 that ls opened.
        let fds = try String(contentsOfFile: directory + "/fds", encoding: .utf8).split(separator: "\n")
        #expect(fds.sorted() == ["0", "1", "2", "3"])
    }

    @Test("a program started held never runs when its hold closes unreleased, as when the agent dies")
    func unreleasedNeverRuns() throws {
        let directory = try directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spawned = try Spawner.spawn(
            argv: ["/bin/sh", "-c", "touch ran"], environment: ["PATH=/usr/bin:/bin"], directory: directory,
            limits: ProcessSpec.Limits(), captureOutput: false, held: true)
        close(try #require(spawned.hold))
        let status = exitStatus(of: spawned.pid)
        #expect(status != nil && status != 0)
        #expect(!FileManager.default.fileExists(atPath: directory + "/ran"))
    }
}
