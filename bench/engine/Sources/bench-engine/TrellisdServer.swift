import Foundation
import TrellisRPC
import TrellisTLS

/// A `trellisd --dev` started for one measurement: a fresh data directory, ports the
/// kernel picks, its log in a file beside the data.
///
/// The API address comes from the `ready` log line, the admin token from
/// `DATA/admin.token` and the CA from `DATA/ca.pem`. ``stop()`` sends SIGTERM and removes
/// the temporary directory.
final class TrellisdServer {
    let directory: String
    let process = Process()
    private(set) var apiAddress: SocketAddress?
    private(set) var token = ""
    private(set) var caPEM = ""

    var dataDirectory: String { "\(directory)/data" }
    var logPath: String { "\(directory)/trellisd.log" }
    var pid: Int32 { process.processIdentifier }

    init(binary: String) throws {
        var template = Array("\(NSTemporaryDirectory())/bench-engine-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw BenchError("bench: mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        directory = String(cString: made)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--dev", "--data", dataDirectory, "--listen", "127.0.0.1:0", "--agent-listen", "127.0.0.1:0",
        ]
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    /// Waits for the `ready` line, then reads the credentials.
    func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = log.split(separator: "\n").first(where: { $0.contains("msg=\"ready\"") }),
                let api = Self.value("api.address", in: line)
            {
                apiAddress = try SocketAddress(parsing: api)
                token = try String(contentsOfFile: "\(dataDirectory)/admin.token", encoding: .utf8)
                    .filter { !$0.isWhitespace }
                caPEM = try String(contentsOfFile: "\(dataDirectory)/ca.pem", encoding: .utf8)
                return
            }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw BenchError("bench: trellisd did not become ready; its log:\n\(log)")
    }

    /// A client of the API listener, with the admin token.
    func makeClient() throws -> RPCClient {
        guard let apiAddress else { preconditionFailure("waitUntilReady() first") }
        var configuration = RPCClient.Configuration(
            address: apiAddress, tls: TLSClientConfiguration(serverName: apiAddress.host, trustRootsPEM: caPEM))
        configuration.setBearerToken(token)
        return try RPCClient(configuration: configuration)
    }

    /// Peak and current resident set of the process, in KiB (`VmHWM`, `VmRSS`).
    func memoryKiB() -> (peak: Int, current: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("\(name):") }) else {
                return 0
            }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return (field("VmHWM"), field("VmRSS"))
    }

    /// The process's CPU time so far (user + system, all threads), in milliseconds.
    func cpuMilliseconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command: state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) * 1_000 / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// SIGTERM, a bounded wait for the exit (SIGKILL after it), then the directory goes.
    /// Returns the exit status.
    @discardableResult
    func stop(timeout: Duration = .seconds(30)) async -> Int32 {
        if process.isRunning { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
        return process.terminationStatus
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    private static func value(_ key: String, in line: Substring) -> String? {
        line.split(separator: " ").first { $0.hasPrefix("\(key)=") }.map { String($0.dropFirst(key.count + 1)) }
    }
}

/// A failure of the benchmark itself; it ends the run with the message.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
