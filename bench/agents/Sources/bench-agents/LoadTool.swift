import Dispatch
import TrellisRPC
import TrellisTLS

#if canImport(Glibc)
import Glibc
#endif

/// The run: identities first, then, on `start`, every agent connecting (at most
/// `--ramp` first attempts at a time), progress every two seconds, and the harness's
/// commands until the end of stdin.
///
/// The lines on stdout:
///
/// ```
/// prepared n=N seconds=S nofile=SOFT loops=L     identities and clients made; waiting for `start`
/// connected n=N at=T seconds=S ...               every agent welcomed once (T: CLOCK_MONOTONIC)
/// restart-mark at=T                              `restart` read: phase 1 begins
/// reconnected n=N at=T seconds=S ...             every agent welcomed again after the mark
/// {"bench":"agents",...}                         at the end of stdin, then the tool exits
/// ```
enum LoadTool {
    static func run(_ options: Options) async throws {
        let limit = try OpenFiles.raiseToHardLimit()
        let needed = OpenFiles.needed(agents: options.agents)
        guard limit.soft >= needed else {
            throw BenchError(
                "bench-agents: \(options.agents) agents need about \(needed) open files, but the hard limit "
                    + "(RLIMIT_NOFILE) is \(limit.hard); raise it (ulimit -Hn, as root) or run fewer agents")
        }
        let target: SocketAddress
        do {
            target = try SocketAddress(parsing: options.target)
        } catch {
            throw BenchError("bench-agents: --target: \(error)")
        }
        let caPEM = try readFile(options.caPath)
        let caKeyPEM = try readFile(options.caKeyPath)

        let group = try EventLoopGroup(loopCount: options.loops, namePrefix: "agents")
        // The limits and connect timeout of a real agent (AgentConfiguration): a keepalive
        // ping after 60 s without hearing from the coordinator, 30 s to connect.
        var limits = ClientLimits()
        limits.keepaliveInterval = .seconds(60)
        let base = RPCClient.Configuration(
            address: target, tls: TLSClientConfiguration(serverName: options.serverName, trustRootsPEM: caPEM),
            connectTimeout: .seconds(30), limits: limits)
        let workers = options.workers > 0 ? options.workers : EventLoopGroup.defaultLoopCount
        let began = Monotonic.seconds()
        let clients = try Identities.makeClients(
            count: options.agents, workers: workers, caPEM: caPEM, caKeyPEM: caKeyPEM, base: base, group: group)
        Output.line(
            "prepared n=\(options.agents) seconds=\(Output.fixed(Monotonic.seconds() - began, 3)) "
                + "nofile=\(limit.soft) loops=\(options.loops)")

        var commands = StandardInput.lines().makeAsyncIterator()
        while let command = await commands.next() {
            if command == "start" { break }
        }
        let fleet = Fleet(size: options.agents)
        fleet.start()

        await withDiscardingTaskGroup { tasks in
            tasks.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(2))
                    Output.progress(fleet.progress())
                }
            }
            tasks.addTask {
                await launch(clients, fleet: fleet, loops: group.loops, ramp: options.ramp)
            }
            while let command = await commands.next() {
                if command == "restart" { fleet.markRestart() }
            }
            // Closing thousands of connections one by one measures nothing; the
            // coordinator sees them close when the process ends.
            Output.line(fleet.result())
            exit(0)
        }
    }

    /// Starts one task per agent, each preferring one of the loops; past the first
    /// `ramp`, each waits for another agent's first attempt to end.
    static func launch(_ clients: [RPCClient], fleet: Fleet, loops: [EventLoop], ramp: Int) async {
        var firstAttempts = fleet.firstAttempts.makeAsyncIterator()
        await withDiscardingTaskGroup { agents in
            for (index, client) in clients.enumerated() {
                if index >= ramp { _ = await firstAttempts.next() }
                let agent = SimulatedAgent(index: index, client: client, fleet: fleet)
                agents.addTask(executorPreference: loops[index % loops.count].taskExecutor) { await agent.run() }
            }
        }
    }

    static func readFile(_ path: String) throws -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw BenchError("bench-agents: cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                throw BenchError("bench-agents: reading \(path) failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The harness's commands, one per line, read on a thread of their own so that no
/// thread of the concurrency pool blocks in `read`.
enum StandardInput {
    static func lines() -> AsyncStream<String> {
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        DispatchQueue(label: "bench-agents.stdin").async {
            while let line = readLine() {
                continuation.yield(line.trimmingCharacters(in: " \r"))
            }
            continuation.finish()
        }
        return lines
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var view = Substring(self)
        while let first = view.first, set.contains(first) { view = view.dropFirst() }
        while let last = view.last, set.contains(last) { view = view.dropLast() }
        return String(view)
    }
}
