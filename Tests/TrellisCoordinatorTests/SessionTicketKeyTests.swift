import Glibc
import Testing
import TrellisLogging
import TrellisTLS

@testable import TrellisCoordinator

@Suite("The agent listener's session ticket key")
struct SessionTicketKeyTests {
    private let logger = Logger(label: "test", sink: FileDescriptorLogSink(fileDescriptor: 2, minimumLevel: .warning))

    private func directory() throws -> DataDirectory {
        var template = Array("/tmp/trellis-tickets-XXXXXX".utf8CString)
        let path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        return try DataDirectory(path: path)
    }

    /// Removes the key file and the directory `directory()` made.
    private func remove(_ data: DataDirectory) {
        unlink(data.file(Credentials.FileName.sessionTicketKey))
        rmdir(data.path)
    }

    @Test("made once, kept across restarts in a file only the owner reads, replaced after a day")
    func keptThenRotated() throws {
        let data = try directory()
        defer { remove(data) }
        let now = Int64(time(nil))
        let made = try Credentials.loadOrCreateSessionTicketKey(in: data, logger: logger, now: now)
        var status = stat()
        #expect(stat(data.file(Credentials.FileName.sessionTicketKey), &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
        #expect(try Credentials.loadOrCreateSessionTicketKey(in: data, logger: logger, now: now + 3600) == made)

        let rotated = try Credentials.loadOrCreateSessionTicketKey(in: data, logger: logger, now: now + 25 * 3600)
        #expect(rotated != made)
        #expect(try Credentials.loadOrCreateSessionTicketKey(in: data, logger: logger) == rotated)
    }

    @Test("a damaged key file is replaced, not trusted")
    func damagedFileReplaced() throws {
        let data = try directory()
        defer { remove(data) }
        try data.write(Credentials.FileName.sessionTicketKey, "not a key\n", mode: 0o600)
        let key = try Credentials.loadOrCreateSessionTicketKey(in: data, logger: logger)
        #expect(try data.read(Credentials.FileName.sessionTicketKey) == key.hexRepresentation + "\n")
    }
}
