import TrellisEcho
import TrellisLogging
import TrellisRPC
import TrellisTLS

#if canImport(Glibc)
import Glibc
#endif

/// A real RPC server on a loopback port with fresh certificates, serving EchoService and
/// whatever a test adds, for suites that exercise the runtime end to end.
public final class TestRPCServer: Sendable {
    public let pki: TestPKI
    public let group: EventLoopGroup
    public let server: RPCServer
    public let address: SocketAddress

    private init(pki: TestPKI, group: EventLoopGroup, server: RPCServer, address: SocketAddress) {
        self.pki = pki
        self.group = group
        self.server = server
        self.address = address
    }

    /// Starts a server on 127.0.0.1 with a free port.
    ///
    /// - Parameters:
    ///   - requireClientCertificate: make it an agent-style listener (mutual TLS).
    ///   - port: a fixed port, to restart a server where a client expects it.
    ///   - configure: adds handlers or interceptors beside EchoService.
    public static func start(
        limits: ServerLimits = ServerLimits(),
        requireClientCertificate: Bool = false,
        pki: TestPKI? = nil,
        port: Int = 0,
        loops: Int = 2,
        sessionTicketKey: SessionTicketKey? = nil,
        configure: (inout RPCRouter) -> Void = { _ in }
    ) async throws -> TestRPCServer {
        let pki = try pki ?? TestPKI()
        let group = try EventLoopGroup(loopCount: loops, namePrefix: "test-server")
        var router = RPCRouter()
        EchoService.register(into: &router)
        configure(&router)
        let server = try RPCServer(
            configuration: ServerConfiguration(
                name: "test",
                address: try SocketAddress(parsing: "127.0.0.1:\(port)"),
                tls: {
                    var tls = pki.serverConfiguration(requireClientCertificate: requireClientCertificate)
                    tls.sessionTicketKey = sessionTicketKey
                    return tls
                }(),
                limits: limits),
            router: router,
            group: group,
            logger: Logger(label: "test.server", sink: TestLogSink.shared))
        // A fixed port (a restart where a client expects it) may be taken for a moment by
        // another process's connection, which the kernel gave it as its own port after this
        // one let it go: binding it is tried again for a while.
        let deadline = ContinuousClock.now + .seconds(20)
        var address: SocketAddress?
        while address == nil {
            do {
                address = try await server.start()
            } catch let error as RPCSystemError
                where port != 0 && error.errno == EADDRINUSE && ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(50))
            } catch {
                await group.shutdown()
                throw error
            }
        }
        return TestRPCServer(pki: pki, group: group, server: server, address: address!)
    }

    /// A client configuration for this server trusting its CA, optionally presenting
    /// `identity`.
    public func clientConfiguration(
        identity: TestPKI.Identity? = nil,
        limits: ClientLimits = ClientLimits(),
        backoff: ConnectionBackoff = ConnectionBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
    ) -> RPCClient.Configuration {
        RPCClient.Configuration(
            address: address,
            tls: pki.clientConfiguration(identity: identity),
            connectTimeout: .seconds(5),
            backoff: backoff,
            limits: limits)
    }

    /// A client of this server trusting its CA, optionally presenting `identity`.
    public func makeClient(
        identity: TestPKI.Identity? = nil,
        limits: ClientLimits = ClientLimits()
    ) throws -> RPCClient {
        try RPCClient(
            configuration: clientConfiguration(identity: identity, limits: limits),
            logger: Logger(label: "test.client", sink: TestLogSink.shared))
    }

    /// Shuts the server down gracefully and stops its loops.
    public func stop() async {
        await server.shutdown()
        await group.shutdown()
    }
}

/// The sink test servers and clients log to: warnings and errors to standard error,
/// so a failing test shows what the runtime said.
public enum TestLogSink {
    public static let shared: any LogSink = FileDescriptorLogSink(fileDescriptor: 2, minimumLevel: .warning)
}
