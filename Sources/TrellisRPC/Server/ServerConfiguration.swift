import TrellisTLS

/// Limits a server enforces, each with the reason it exists.
public struct ServerLimits: Sendable, Hashable {
    /// The largest frame accepted, checked on the length prefix before anything is
    /// allocated. Like gRPC's default receive limit.
    public var maxFrameSize: Int = 4 << 20
    /// How long a response written with ``RPCResponseWriter/write(coalescing:)`` may wait
    /// for later ones to share its TLS record and its write to the socket.
    public var coalescingDelay: Duration = .milliseconds(2)
    /// Streams open at once on one connection; bounds the memory of a connection at
    /// about this many times the initial window.
    public var maxConcurrentStreams: Int = 1024
    /// Connections open at once on one listener; further connections are closed at once.
    public var maxConnections: Int = 16_384
    /// A TLS handshake not finished in this time is abandoned, so idle sockets cannot
    /// hold connection slots.
    public var handshakeTimeout: Duration = .seconds(10)
    /// TLS handshakes in progress at once on one listener. Beyond it the listener stops
    /// accepting until one finishes, and new connections wait in the kernel's accept
    /// queue: after a restart a fleet reconnecting at once gets handshakes finished in
    /// turn, instead of thousands advancing together until their timeouts waste them.
    public var maxConcurrentHandshakes: Int = 128
    /// A connection with no open stream for this long is sent GoAway and closed.
    public var idleTimeout: Duration = .seconds(300)
    /// After this long without receiving anything, the server sends a Ping.
    public var keepaliveInterval: Duration = .seconds(30)
    /// A connection that sends nothing for this long after a Ping is closed.
    public var keepaliveTimeout: Duration = .seconds(10)
    /// The largest Open metadata accepted, keys and values together.
    public var maxMetadataSize: Int = 8 << 10
    /// The flow-control window each stream starts with, in each direction.
    public var initialWindow: Int = 65_536
    /// How long a graceful shutdown lets in-flight calls run before cancelling them.
    public var drainTimeout: Duration = .seconds(10)

    public init() {}
}

/// Where and how a server listens.
public struct ServerConfiguration: Sendable {
    /// A short name for logs, e.g. `api` or `agent`.
    public var name: String
    /// The address to listen on; port 0 picks a free port.
    public var address: SocketAddress
    /// The server certificate and, for the agent listener, the client CA.
    public var tls: TLSServerConfiguration
    public var limits: ServerLimits

    public init(
        name: String, address: SocketAddress, tls: TLSServerConfiguration, limits: ServerLimits = ServerLimits()
    ) {
        self.name = name
        self.address = address
        self.tls = tls
        self.limits = limits
    }
}
