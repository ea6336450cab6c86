import CBenchAffinity
import TrellisEcho
import TrellisLogging
import TrellisRPC
import TrellisTLS

#if canImport(Glibc)
import Glibc
#endif

/// `bench-trellis-server --port P --cert FILE --key FILE [--loops N]`: EchoService over
/// TLS on 127.0.0.1:P, one event loop per CPU the process may run on unless `--loops`
/// says otherwise. Prints `ready port=P loops=N` once it accepts connections and runs
/// until SIGTERM or SIGINT.
public enum BenchServer {
    static let program = "bench-trellis-server"

    public static func run(arguments: [String]) async -> Never {
        let flags = BenchFlags(
            program: program, arguments: arguments,
            defaults: ["port": "", "cert": "", "key": "", "loops": "\(Affinity.usableCPUCount())"])
        let port = flags.int("port")
        let loops = flags.int("loops")
        guard loops >= 1 else { Bench.fail(program, "--loops wants at least 1", status: 2) }
        let identity = TLSIdentity(
            certificateChainPEM: flags.fileContents("cert"), privateKeyPEM: flags.fileContents("key"))

        // The harness stops the server with SIGTERM once the client is done; there is
        // nothing to drain by then, so the process ends at once.
        Signals.exitOnTermination()

        var limits = ServerLimits()
        // Idle connections are what the idle benchmark holds; keep them for the run.
        limits.idleTimeout = .seconds(24 * 3600)
        var router = RPCRouter()
        EchoService.register(into: &router)
        let logger = Logger(label: "bench.server", sink: Bench.logSink)
        do {
            let group = try EventLoopGroup(loopCount: loops, namePrefix: "server")
            let server = try RPCServer(
                configuration: ServerConfiguration(
                    name: "bench",
                    address: try SocketAddress(parsing: "127.0.0.1:\(port)"),
                    tls: TLSServerConfiguration(identity: identity),
                    limits: limits),
                router: router, group: group, logger: logger)
            let address = try await server.start()
            Bench.printLine("ready port=\(address.port) loops=\(loops)")
        } catch {
            Bench.fail(program, "cannot start: \(error)")
        }
        while true {
            try? await Task.sleep(for: .seconds(3600))
        }
    }
}

/// The CPUs this process may run on.
enum Affinity {
    /// The number of CPUs in the process's affinity mask (what `taskset` restricts), or
    /// the online CPUs if the mask cannot be read.
    static func usableCPUCount() -> Int {
        let count = Int(bench_affinity_cpu_count())
        return count > 0 ? count : EventLoopGroup.defaultLoopCount
    }
}

/// Signal handling for both programs.
enum Signals {
    /// SIGTERM and SIGINT end the process at once with status 0.
    static func exitOnTermination() {
        // Kept out of main.swift: a handler declared there would be inferred @MainActor.
        signal(SIGTERM) { _ in _exit(0) }
        signal(SIGINT) { _ in _exit(0) }
    }
}
