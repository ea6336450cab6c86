import Synchronization
import TrellisAPI
import TrellisRPC
import TrellisTLS
import TrellisTestSupport
import TrellisWire

/// A coordinator's AgentService reduced to what tests need, on a real TLS listener:
/// Discover and Join answer as configured; Connect records everything the agent sends,
/// welcomes it, and sends the commands a test pushes.
final class FakeCoordinator: Sendable {
    /// What to send on the current Connect stream.
    enum Outgoing: Sendable {
        case command(TrellisV1.Command)
        /// Ends the stream with UNAVAILABLE, as a coordinator that went away.
        case drop
    }

    /// Everything received, in order.
    struct Recorded: Sendable {
        var hellos: [TrellisV1.AgentHello] = []
        var peerNames: [String?] = []
        var heartbeats: [TrellisV1.Heartbeat] = []
        var results: [TrellisV1.CommandResult] = []
        var reports: [TrellisV1.ResourceReport] = []
        var joins: [TrellisV1.JoinRequest] = []
        var discovers = 0
    }

    /// Shared with the handlers, which exist before the server does.
    final class State: Sendable {
        let recorded = Mutex(Recorded())
        let welcome: Mutex<TrellisV1.Welcome>
        let current = Mutex<AsyncStream<Outgoing>.Continuation?>(nil)
        let discoverCA: Mutex<String>
        let join: @Sendable (TrellisV1.JoinRequest) throws -> TrellisV1.JoinResponse

        init(
            welcome: TrellisV1.Welcome, discoverCA: String,
            join: @escaping @Sendable (TrellisV1.JoinRequest) throws -> TrellisV1.JoinResponse
        ) {
            self.welcome = Mutex(welcome)
            self.discoverCA = Mutex(discoverCA)
            self.join = join
        }
    }

    let server: TestRPCServer
    let state: State

    var pki: TestPKI { server.pki }

    private init(server: TestRPCServer, state: State) {
        self.server = server
        self.state = state
    }

    /// Starts a fake on 127.0.0.1 with a free port.
    ///
    /// - Parameters:
    ///   - requireClientCertificate: mutual TLS, as for Connect; joining needs `false`.
    ///   - discoverCA: what Discover returns; the test PKI's CA by default.
    ///   - join: answers Join; by default signs the request with the test PKI's CA.
    static func start(
        pki: TestPKI? = nil,
        requireClientCertificate: Bool,
        port: Int = 0,
        welcome: TrellisV1.Welcome = TrellisV1.Welcome(heartbeatIntervalMs: 50, observeIntervalMs: 50),
        discoverCA: String? = nil,
        join: (@Sendable (TrellisV1.JoinRequest, TestPKI) throws -> TrellisV1.JoinResponse)? = nil
    ) async throws -> FakeCoordinator {
        let pki = try pki ?? TestPKI()
        let answer = join ?? Self.signing
        let state = State(
            welcome: welcome, discoverCA: discoverCA ?? pki.caCertificatePEM,
            join: { request in try answer(request, pki) })
        let server = try await TestRPCServer.start(
            requireClientCertificate: requireClientCertificate, pki: pki, port: port
        ) {
            router in
            Self.register(into: &router, state: state)
        }
        return FakeCoordinator(server: server, state: state)
    }

    /// Signs the request, merging `region: test` into the labels as a token's would.
    static func signing(_ request: TrellisV1.JoinRequest, _ pki: TestPKI) throws -> TrellisV1.JoinResponse {
        let certificate = try pki.authority.sign(csrPEM: request.csrPem, usage: .client)
        var labels = request.labels
        labels["region"] = "test"
        return TrellisV1.JoinResponse(
            certificatePem: try certificate.pemRepresentation(), caPem: pki.caCertificatePEM, labels: labels)
    }

    func stop() async {
        state.current.withLock { $0?.finish() }
        await server.stop()
    }

    var recorded: Recorded { state.recorded.withLock { $0 } }

    /// Sends on the current stream; false when there is none.
    @discardableResult
    func send(_ outgoing: Outgoing) -> Bool {
        state.current.withLock { current in
            guard let current else { return false }
            current.yield(outgoing)
            return true
        }
    }

    func send(_ command: TrellisV1.Command) {
        send(.command(command))
    }

    private static func register(into router: inout RPCRouter, state: State) {
        router.register(
            TrellisV1.AgentService.discover,
            unary: { _, _ in
                state.recorded.withLock { $0.discovers += 1 }
                return TrellisV1.DiscoverResponse(caPem: state.discoverCA.withLock { $0 })
            })
        router.register(
            TrellisV1.AgentService.join,
            unary: { request, _ in
                state.recorded.withLock { $0.joins.append(request) }
                return try state.join(request)
            })
        router.register(
            TrellisV1.AgentService.connect,
            bidirectional: { requests, responses, context in
                var iterator = requests.makeAsyncIterator()
                guard let first = try await iterator.next(), case .hello(let hello)? = first.body else {
                    throw RPCError(.invalidArgument, "fake: the first message must be a hello")
                }
                let (outgoing, continuation) = AsyncStream.makeStream(of: Outgoing.self)
                state.current.withLock { current in
                    current?.finish()
                    current = continuation
                }
                state.recorded.withLock {
                    $0.hellos.append(hello)
                    $0.peerNames.append(context.peer.certificate?.commonName)
                }
                try await responses.write(TrellisV1.CoordinatorMessage(body: .welcome(state.welcome.withLock { $0 })))

                // The reader runs beside the handler: the handler ending ends the stream, and
                // with it the reader, whatever the reader is waiting for.
                let reader = Task {
                    for try await message in requests {
                        state.recorded.withLock { recorded in
                            switch message.body {
                            case .heartbeat(let heartbeat): recorded.heartbeats.append(heartbeat)
                            case .result(let result): recorded.results.append(result)
                            case .report(let report): recorded.reports.append(report)
                            case .hello, nil: break
                            }
                        }
                    }
                }
                defer { reader.cancel() }
                for await item in outgoing {
                    switch item {
                    case .command(let command):
                        try await responses.write(TrellisV1.CoordinatorMessage(body: .command(command)))
                    case .drop:
                        throw RPCError(.unavailable, "fake: dropped by the test")
                    }
                }
            })
    }
}
