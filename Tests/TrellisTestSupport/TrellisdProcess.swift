import Foundation
import Synchronization
import TrellisRPC

/// A program of this package, built under `.build/debug`, started by a test with its
/// output (stdout and stderr together) captured.
public class BuiltProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is only started and signalled; captured output is
    // behind a Mutex.
    public let process: Process
    private let output = CapturedOutput()

    /// `.build/debug/NAME` under the package root.
    public static func binaryPath(_ name: String) -> String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent(".build/debug/\(name)").path
    }

    /// Starts `NAME ARGUMENTS` and returns at once.
    public init(_ name: String, arguments: [String], environment: [String: String] = [:]) throws {
        let path = Self.binaryPath(name)
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw RawClientError("\(name) is not built at \(path); run `swift build` first")
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        try process.run()
        // A thread of its own reads the pipe until EOF and keeps the handle (and so the
        // descriptor) until then. A readability handler would register the descriptor
        // with libdispatch, which can be left with a stale registration when the handle
        // closes it while a concurrently spawned child still holds the pipe.
        let output = self.output
        let reader = pipe.fileHandleForReading
        Thread {
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(reader.fileDescriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    output.append(String(decoding: buffer[..<count], as: UTF8.self))
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            output.end()
            try? reader.close()
        }.start()
    }

    /// A test that stopped early (a failed `#require`, a thrown error) leaves no process
    /// behind.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Everything the process wrote so far.
    public var log: String { output.text }

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    @discardableResult
    public func terminate(timeout: Duration = .seconds(30)) async -> Int32 {
        if process.isRunning { process.terminate() }
        let exited = await eventually(timeout: timeout) { !process.isRunning }
        if !exited {
            kill(process.processIdentifier, SIGKILL)
            _ = await eventually { !process.isRunning }
        }
        await outputDrained()
        return process.terminationStatus
    }

    /// Waits, after the process exited, until its last output has been read (the reader
    /// thread can lag behind the exit), so that ``log`` holds everything it wrote.
    private func outputDrained() async {
        _ = await eventually(timeout: .seconds(10)) { output.ended }
    }

    /// SIGKILL, and waits until the process is dead (a zombie counts: Foundation reaps
    /// it in its own time).
    public func killHard() async {
        let pid = process.processIdentifier
        if process.isRunning { kill(pid, SIGKILL) }
        _ = await eventually(timeout: .seconds(30)) { !processIsAlive(pid) }
    }

    /// Waits for the process to exit by itself; returns its status.
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let exited = await eventually(timeout: timeout) { !process.isRunning }
        guard exited else { return nil }
        await outputDrained()
        return process.terminationStatus
    }
}

/// A real `trellisd` process started by a test, with its log lines captured.
///
/// It listens on ports the kernel picks (`127.0.0.1:0`); the addresses come from its
/// `ready` log line, so no port is guessed and none can be taken in between.
public final class TrellisdProcess: BuiltProcess, @unchecked Sendable {
    public let dataDirectory: String

    /// The built binary: `.build/debug/trellisd` under the package root.
    public static var binaryPath: String { binaryPath("trellisd") }

    /// A fresh temporary directory path that does not exist yet.
    public static func temporaryDataDirectory() -> String {
        Scratch.path("trellisd", "data")
    }

    /// Starts `trellisd ARGUMENTS` and returns at once; see ``waitUntilReady()``.
    public init(arguments: [String], dataDirectory: String, environment: [String: String] = [:]) throws {
        self.dataDirectory = dataDirectory
        try super.init("trellisd", arguments: arguments, environment: environment)
    }

    /// Starts `trellisd --dev` on free loopback ports.
    public convenience init(
        dev dataDirectory: String = TrellisdProcess.temporaryDataDirectory(), extra: [String] = [],
        environment: [String: String] = [:]
    ) throws {
        try self.init(
            arguments: ["--dev", "--data", dataDirectory, "--listen", "127.0.0.1:0", "--agent-listen", "127.0.0.1:0"]
                + extra,
            dataDirectory: dataDirectory, environment: environment)
    }

    /// Waits for the `ready` line and returns the API and agent addresses.
    public func waitUntilReady(
        timeout: Duration = .seconds(30)
    ) async throws -> (api: SocketAddress, agent: SocketAddress) {
        var found: (SocketAddress, SocketAddress)?
        _ = try await eventually(timeout: timeout) {
            guard let line = log.split(separator: "\n").first(where: { $0.contains("msg=\"ready\"") }) else {
                return !process.isRunning
            }
            func value(_ key: String) -> String? {
                line.split(separator: " ").first { $0.hasPrefix("\(key)=") }.map { String($0.dropFirst(key.count + 1)) }
            }
            if let api = value("api.address"), let agent = value("agent.address") {
                found = (try SocketAddress(parsing: api), try SocketAddress(parsing: agent))
            }
            return true
        }
        guard let found else {
            throw RawClientError("trellisd did not become ready; its output:\n\(log)")
        }
        return found
    }

    /// Removes the data directory's parent (the temporary directory made for it).
    public func removeData() {
        try? FileManager.default.removeItem(atPath: (dataDirectory as NSString).deletingLastPathComponent)
    }
}

/// Text a child process writes, collected from the pipe's reader thread.
private final class CapturedOutput: Sendable {
    private let storage = Mutex((text: "", ended: false))

    func append(_ text: String) { storage.withLock { $0.text += text } }
    /// The pipe reached end of file: everything the process wrote is in ``text``.
    func end() { storage.withLock { $0.ended = true } }
    var text: String { storage.withLock { $0.text } }
    var ended: Bool { storage.withLock { $0.ended } }
}
