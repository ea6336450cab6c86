import Foundation
import Synchronization
import TrellisRPC

/// A real `trellisd` process started by a test, with its log lines captured.
///
/// It listens on ports the kernel picks (`127.0.0.1:0`); the addresses come from its
/// `ready` log line, so no port is guessed and none can be taken in between.
public final class TrellisdProcess: @unchecked Sendable {
    // @unchecked Sendable: `process` is only started and signalled; captured output is
    // behind a Mutex.
    public let dataDirectory: String
    public let process: Process
    private let output = CapturedOutput()

    /// The built binary: `.build/debug/trellisd` under the package root.
    public static var binaryPath: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.appendingPathComponent(".build/debug/trellisd").path
    }

    /// A fresh temporary directory path that does not exist yet.
    public static func temporaryDataDirectory() -> String {
        let base = FileManager.default.temporaryDirectory.path
        return "\(base)/trellisd-test-\(UInt64.random(in: 0...UInt64.max))/data"
    }

    /// Starts `trellisd ARGUMENTS` and returns at once; see ``waitUntilReady()``.
    public init(arguments: [String], dataDirectory: String, environment: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binaryPath) else {
            throw RawClientError("trellisd is not built at \(Self.binaryPath); run `swift build` first")
        }
        self.dataDirectory = dataDirectory
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binaryPath)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                return
            }
            output.append(String(decoding: data, as: UTF8.self))
        }
        try process.run()
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

    /// Everything the process wrote so far.
    public var log: String { output.text }

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

    /// Sends SIGTERM and waits for the process to exit; returns its exit status.
    @discardableResult
    public func terminate(timeout: Duration = .seconds(30)) async -> Int32 {
        if process.isRunning { process.terminate() }
        let exited = await eventually(timeout: timeout) { !process.isRunning }
        if !exited {
            kill(process.processIdentifier, SIGKILL)
            _ = await eventually { !process.isRunning }
        }
        return process.terminationStatus
    }

    /// Waits for the process to exit by itself; returns its status.
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let exited = await eventually(timeout: timeout) { !process.isRunning }
        return exited ? process.terminationStatus : nil
    }

    /// Removes the data directory's parent (the temporary directory made for it).
    public func removeData() {
        try? FileManager.default.removeItem(atPath: (dataDirectory as NSString).deletingLastPathComponent)
    }
}

/// Text a child process writes, collected from the pipe's reader thread.
private final class CapturedOutput: Sendable {
    private let storage = Mutex("")

    func append(_ text: String) { storage.withLock { $0 += text } }
    var text: String { storage.withLock { $0 } }
}
