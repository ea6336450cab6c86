import Foundation
import Synchronization
import TrellisRPC

/// A real coordinator and real `trellis-agent` processes, for tests of how they meet.
///
/// The coordinator runs `--dev --no-local-agent` on free ports; agents join it with tokens
/// from `trellis join-token create`, exactly as an operator would.
public final class AgentCluster: @unchecked Sendable {
    // @unchecked Sendable: set up once, then only read; processes are signalled.
    public let coordinator: TrellisdProcess
    public let api: SocketAddress
    public let agentAddress: SocketAddress
    private let base: String
    private let started = Mutex<[BuiltProcess]>([])

    /// Starts the coordinator with `extra` flags and waits until it is ready.
    public init(extra: [String] = []) async throws {
        let data = TrellisdProcess.temporaryDataDirectory()
        base = (data as NSString).deletingLastPathComponent
        coordinator = try TrellisdProcess(dev: data, extra: ["--no-local-agent"] + extra)
        (api, agentAddress) = try await coordinator.waitUntilReady()
    }

    /// Runs `trellis ARGUMENTS` against the coordinator.
    public func trellis(_ arguments: [String]) async throws -> ProcessOutcome {
        let token = try String(contentsOfFile: "\(coordinator.dataDirectory)/admin.token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return try await runBuiltExecutable(
            "trellis", arguments,
            environment: [
                "TRELLIS_SERVER": api.description, "TRELLIS_CA": "\(coordinator.dataDirectory)/ca.pem",
                "TRELLIS_TOKEN": token,
            ])
    }

    /// A new join token; fails the test's expectations through the thrown error.
    public func joinToken(_ extra: [String] = []) async throws -> String {
        let outcome = try await trellis(["join-token", "create"] + extra)
        guard outcome.status == 0 else { throw RawClientError("join-token create failed: \(outcome.stderr)") }
        return outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A fresh directory for an agent's data (not created).
    public func agentDirectory(_ name: String) -> String {
        "\(base)/agent-\(name)-\(UInt32.random(in: 0...UInt32.max))"
    }

    /// Starts `trellis-agent` against the coordinator.
    public func startAgent(
        name: String, data: String, token: String?, labels: [String] = [], extra: [String] = []
    ) throws -> BuiltProcess {
        var arguments = ["--coordinator", agentAddress.description, "--data", data, "--name", name]
        if let token { arguments += ["--join-token", token] }
        for label in labels { arguments += ["--label", label] }
        let agent = try BuiltProcess("trellis-agent", arguments: arguments + extra)
        started.withLock { $0.append(agent) }
        return agent
    }

    /// `trellis get agents -o json`, as objects by name.
    public func agents() async throws -> [String: [String: Any]] {
        let outcome = try await trellis(["get", "agents", "-o", "json"])
        guard outcome.status == 0,
            let list = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [[String: Any]]
        else { throw RawClientError("get agents failed: \(outcome.stderr)") }
        var byName: [String: [String: Any]] = [:]
        for agent in list { if let name = agent["name"] as? String { byName[name] = agent } }
        return byName
    }

    /// `trellis get environment NAME -o json`, or nil when it fails.
    public func environment(_ name: String) async throws -> [String: Any]? {
        let outcome = try await trellis(["get", "environment", name, "-o", "json"])
        guard outcome.status == 0 else { return nil }
        return try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any]
    }

    /// The resources of an environment's status, by name.
    public func resources(_ name: String) async throws -> [String: [String: Any]] {
        guard let status = try await environment(name)?["status"] as? [String: Any],
            let resources = status["resources"] as? [[String: Any]]
        else { return [:] }
        var byName: [String: [String: Any]] = [:]
        for resource in resources { if let name = resource["name"] as? String { byName[name] = resource } }
        return byName
    }

    /// One output of one resource, as `get` shows it.
    public func output(_ environment: String, _ resource: String, _ key: String) async throws -> String? {
        (try await resources(environment)[resource]?["outputs"] as? [String: String])?[key]
    }

    /// Writes `text` to a new file and returns its path.
    public func write(_ text: String, named name: String = "spec.yaml") throws -> String {
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let path = "\(base)/\(UInt32.random(in: 0...UInt32.max))-\(name)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs `body` with a new cluster, then stops it whether `body` threw or not.
    public static func with<T>(
        extra: [String] = [], _ body: (AgentCluster) async throws -> T
    ) async throws -> T {
        let cluster = try await AgentCluster(extra: extra)
        do {
            let result = try await body(cluster)
            await cluster.stop()
            return result
        } catch {
            await cluster.stop()
            throw error
        }
    }

    /// Stops every agent started here and the coordinator, and removes everything.
    public func stop() async {
        for agent in started.withLock({ $0 }) { await agent.terminate(timeout: .seconds(10)) }
        await coordinator.terminate()
        try? FileManager.default.removeItem(atPath: base)
    }
}

/// Whether a process with this pid is alive (and not a zombie).
public func processIsAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
    guard let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// Pids of live processes whose command line contains `marker`.
public func processes(containing marker: String) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry -> Int32? in
        guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
        else { return nil }
        let line = String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
        return line.contains(marker) && processIsAlive(pid) ? pid : nil
    }
}

/// One HTTP/1.1 GET to 127.0.0.1:`port`; the status and body, or nil when nothing answers.
public func httpGet(port: Int, path: String) async -> (status: Int, body: String)? {
    try? await runBlocking {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == request.count else { return nil }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let text = String(decoding: response, as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        guard let statusLine = parts.first?.split(separator: "\r\n").first,
            let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return (status, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }
}
