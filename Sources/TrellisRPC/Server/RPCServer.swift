import CEpoll
import Synchronization
import TrellisLogging
import TrellisTLS

#if canImport(Glibc)
import Glibc
#endif

/// State every connection of one server shares.
final class ServerShared: Sendable {
    let name: String
    let router: RPCRouter
    let limits: ServerLimits
    let logger: Logger
    let tlsContext: TLSContext
    /// Open connections, for shutdown and for the connection limit.
    let connections = Mutex<[ObjectIdentifier: ServerConnection]>([:])
    /// Connections accepted and on their way to their loop, counted against the limit.
    let pendingConnections = Atomic<Int>(0)
    /// Resumed when the last connection closes during shutdown.
    let emptied = Mutex<[CheckedContinuation<Void, Never>]>([])
    /// Where the listener's TLS handshakes take turns.
    let admission: HandshakeAdmission

    init(name: String, router: RPCRouter, limits: ServerLimits, logger: Logger, tlsContext: TLSContext) {
        self.name = name
        self.router = router
        self.limits = limits
        self.logger = logger
        self.tlsContext = tlsContext
        self.admission = HandshakeAdmission(limit: limits.maxConcurrentHandshakes)
    }

    var connectionCount: Int { connections.withLock { $0.count } + pendingConnections.load(ordering: .relaxed) }

    func connectionClosed(_ connection: ServerConnection) {
        let waiters = connections.withLock { connections -> [CheckedContinuation<Void, Never>] in
            connections[ObjectIdentifier(connection)] = nil
            guard connections.isEmpty else { return [] }
            return emptied.withLock { waiters in
                let taken = waiters
                waiters = []
                return taken
            }
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until no connection is open.
    func waitUntilEmpty() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let empty = connections.withLock { connections -> Bool in
                if connections.isEmpty { return true }
                emptied.withLock { $0.append(continuation) }
                return false
            }
            if empty { continuation.resume() }
        }
    }
}

/// A TLS server of the Trellis protocol on one listening address.
///
/// ```swift
/// let server = try RPCServer(configuration: configuration, router: router, group: group)
/// let address = try await server.start()
/// ...
/// await server.shutdown()   // GoAway, drain, then cancel what is left
/// ```
///
/// Connections are spread over the group's loops. The lifecycle is symmetric: `start`
/// binds and begins accepting; `shutdown` stops accepting, sends GoAway on every
/// connection, lets calls finish within the drain timeout, then cancels the rest.
public final class RPCServer: Sendable {
    private let configuration: ServerConfiguration
    private let group: EventLoopGroup
    private let shared: ServerShared
    private let listener = Mutex<Listener?>(nil)

    /// Creates a server; the TLS configuration is checked now.
    public init(
        configuration: ServerConfiguration,
        router: RPCRouter,
        group: EventLoopGroup,
        logger: Logger = Logger(label: "rpc.server")
    ) throws {
        trellis_ignore_sigpipe()
        self.configuration = configuration
        self.group = group
        let context = try TLSContext.server(configuration.tls)
        self.shared = ServerShared(
            name: configuration.name,
            router: router,
            limits: configuration.limits,
            logger: logger.with("listener", configuration.name),
            tlsContext: context
        )
    }

    /// Binds and starts accepting. Returns the bound address (useful with port 0).
    @discardableResult
    public func start() async throws -> SocketAddress {
        let fd = try Socket.listen(on: configuration.address)
        guard let bound = Socket.localAddress(of: fd) else {
            close(fd)
            throw RPCSystemError(
                function: "getsockname", errno: errno, context: "listening on \(configuration.address)")
        }
        let loop = group.loops[0]
        let listener = Listener(fd: fd, loop: loop, group: group, shared: shared)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.execute {
                do {
                    try loop.register(fd, events: EPOLLIN.rawValue, handler: listener)
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        self.listener.withLock { $0 = listener }
        shared.logger.info("listening", ["address": bound.description])
        return bound
    }

    /// Open connections now.
    public var connectionCount: Int { shared.connectionCount }

    /// TLS handshakes holding one of the `maxConcurrentHandshakes` slots now.
    public var handshakesInProgress: Int { shared.admission.inProgress }

    /// Connections that sent their first bytes and wait for a handshake slot now.
    public var handshakesWaiting: Int { shared.admission.waiting }

    /// Since the server started: handshakes that took a slot, and connections that had to
    /// wait for one first.
    public var handshakeTotals: (admitted: Int, queued: Int) { shared.admission.totals }

    /// Stops accepting, sends GoAway to every connection, waits up to the drain timeout
    /// for open calls, then ends the rest with `UNAVAILABLE` and closes everything.
    public func shutdown() async {
        if let listener = listener.withLock({ value -> Listener? in
            let taken = value
            value = nil
            return taken
        }) {
            await listener.stop()
        }
        let connections = shared.connections.withLock { Array($0.values) }
        for connection in connections { await connection.beginDrain() }

        // Calls get the drain timeout; then whatever is still open is ended.
        let drainTimeout = shared.limits.drainTimeout
        let enforcer = Task { [shared] in
            try await Task.sleep(for: drainTimeout)
            let remaining = shared.connections.withLock { Array($0.values) }
            shared.logger.warning("drain timeout passed; cancelling calls", ["connections": "\(remaining.count)"])
            for connection in remaining { await connection.forceClose() }
        }
        await shared.waitUntilEmpty()
        enforcer.cancel()
        shared.logger.info("stopped")
    }
}

/// Accepts connections on one loop and hands each to a loop of the group.
final class Listener: EventHandler, @unchecked Sendable {
    // @unchecked Sendable: created off the loop, then touched only on `loop`.
    let fd: Int32
    unowned let loop: EventLoop
    let group: EventLoopGroup
    let shared: ServerShared
    private var warnedAtLimit = false

    init(fd: Int32, loop: EventLoop, group: EventLoopGroup, shared: ServerShared) {
        self.fd = fd
        self.loop = loop
        self.group = group
        self.shared = shared
    }

    func handleEvents(_ events: UInt32) {
        while true {
            let accepted: (fd: Int32, peer: SocketAddress?)?
            do {
                accepted = try Socket.accept(fd)
            } catch {
                // EMFILE and friends: stop for this turn; the listener stays registered.
                shared.logger.warning("accept failed", ["error": "\(error)"])
                return
            }
            guard let (clientFD, peer) = accepted else { return }
            if shared.connectionCount >= shared.limits.maxConnections {
                Glibc.close(clientFD)
                if !warnedAtLimit {
                    warnedAtLimit = true
                    shared.logger.warning(
                        "connection limit reached; refusing connections",
                        ["limit": "\(shared.limits.maxConnections)"])
                }
                continue
            }
            warnedAtLimit = false
            let target = group.nextLoop()
            let shared = shared
            let peerText = peer?.description ?? "unknown"
            // Count the connection before it reaches its loop so the limit holds under bursts.
            shared.pendingConnections.add(1, ordering: .relaxed)
            target.execute {
                Listener.adopt(clientFD, peer: peerText, on: target, shared: shared)
            }
        }
    }

    private static func adopt(_ fd: Int32, peer: String, on loop: EventLoop, shared: ServerShared) {
        let tls: TLSConnection
        do {
            tls = try TLSConnection(
                context: shared.tlsContext, fileDescriptor: fd, role: .server, peerDescription: peer)
        } catch {
            shared.logger.warning("tls session could not be created", ["error": "\(error)"])
            Glibc.close(fd)
            shared.pendingConnections.subtract(1, ordering: .relaxed)
            return
        }
        let transport = FramedTransport(
            loop: loop, fd: fd, peer: peer, tls: tls,
            limits: TransportLimits(
                maxFrameSize: shared.limits.maxFrameSize, coalescingDelay: shared.limits.coalescingDelay))
        transport.admission = shared.admission
        let connection = ServerConnection(loop: loop, transport: transport, shared: shared)
        shared.connections.withLock { $0[ObjectIdentifier(connection)] = connection }
        shared.pendingConnections.subtract(1, ordering: .relaxed)
        connection.assumeIsolated { $0.start() }
    }

    func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            loop.execute { [self] in
                loop.deregister(fd)
                Glibc.close(fd)
                continuation.resume()
            }
        }
    }
}
