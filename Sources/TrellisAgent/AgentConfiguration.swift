import TrellisDomain
import TrellisRPC
import TrellisTLS

/// Everything an ``Agent`` needs to run: who it is, where the coordinator is, how it
/// proves itself, where it keeps its files, and its timings.
///
/// `trellis-agent` builds one from its flags and the data directory; an in-process agent
/// (the one `trellisd --dev` runs for the local host) builds one from credentials its
/// coordinator issues directly.
public struct AgentConfiguration: Sendable {
    /// The agent's name: the common name of ``identity``'s certificate.
    public var name: String
    /// The labels sent in the hello, which placement matches.
    public var labels: [String: String]
    /// The coordinator's agent listener.
    public var coordinator: SocketAddress
    /// The name the coordinator's certificate must carry (DNS name or address).
    public var serverName: String
    /// The agent's client certificate chain and key.
    public var identity: TLSIdentity
    /// The CA the coordinator's certificate must chain to, PEM.
    public var caPEM: String
    /// The data directory; environments live in `DIR/environments/ENV`.
    public var dataDirectory: String
    /// How many commands run at once; more wait for a slot.
    public var capacity: Int
    /// The version sent in the hello.
    public var version: String
    /// The host name sent in the hello.
    public var hostname: String
    /// Delays between connection attempts.
    public var backoff: ReconnectBackoff
    /// How long a finished command's result is kept to answer the same id again.
    public var resultRetention: Duration
    /// How long the agent waits for the welcome after its hello before reconnecting.
    public var welcomeTimeout: Duration
    /// How long in-flight commands may take to finish after ``Agent/shutdown()``
    /// before they are cancelled.
    public var shutdownGrace: Duration
    /// Connection options for the RPC client: connect timeout and keepalive.
    public var connectTimeout: Duration
    public var limits: ClientLimits

    /// Creates a configuration; the timings default to what production uses.
    public init(
        name: String,
        labels: [String: String] = [:],
        coordinator: SocketAddress,
        serverName: String,
        identity: TLSIdentity,
        caPEM: String,
        dataDirectory: String,
        capacity: Int = 16,
        version: String = trellisAgentVersion,
        hostname: String = AgentName.hostname()
    ) {
        self.name = name
        self.labels = labels
        self.coordinator = coordinator
        self.serverName = serverName
        self.identity = identity
        self.caPEM = caPEM
        self.dataDirectory = dataDirectory
        self.capacity = capacity
        self.version = version
        self.hostname = hostname
        self.backoff = ReconnectBackoff()
        self.resultRetention = .seconds(600)
        self.welcomeTimeout = .seconds(30)
        self.shutdownGrace = .seconds(10)
        // Long enough to wait out a coordinator busy with a fleet's reconnections: an
        // attempt abandoned mid-handshake wastes the work both sides put into it.
        self.connectTimeout = .seconds(30)
        self.limits = Self.defaultLimits
    }

    /// The client's limits: the runtime's defaults, but a keepalive ping after 60 s (not
    /// 30 s) without hearing from the coordinator. Its heartbeats already tell the
    /// coordinator the agent is alive; the ping only finds a coordinator that vanished
    /// without closing the connection, and across a fleet of thousands the pings (and their
    /// pongs, which the coordinator must write) would otherwise cost about as much as the
    /// heartbeats.
    public static var defaultLimits: ClientLimits {
        var limits = ClientLimits()
        limits.keepaliveInterval = .seconds(60)
        return limits
    }

    /// The RPC client's configuration: mutual TLS with ``identity``, verifying the
    /// coordinator against ``caPEM`` and ``serverName``.
    var clientConfiguration: RPCClient.Configuration {
        RPCClient.Configuration(
            address: coordinator,
            tls: TLSClientConfiguration(serverName: serverName, trustRootsPEM: caPEM, identity: identity),
            connectTimeout: connectTimeout,
            limits: limits)
    }
}

/// The version an agent reports in its hello.
public let trellisAgentVersion = "0.1.0"
