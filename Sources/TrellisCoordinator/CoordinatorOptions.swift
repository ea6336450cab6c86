import TrellisCommandLine
import TrellisDomain
import TrellisLogging
import TrellisRPC

/// The coordinator's command-line options.
public struct CoordinatorOptions: Sendable {
    /// The embedded default: a generated CA and server certificate in the data directory.
    public var dev = false
    /// The data directory.
    public var dataDirectory = ".trellis"
    /// The API listener (server certificate; bearer tokens).
    public var listen = "127.0.0.1:7443"
    /// The agent listener (mutual TLS).
    public var agentListen = "127.0.0.1:7444"
    public var tlsCertificate: String?
    public var tlsKey: String?
    public var clientCA: String?
    /// Serve `trellis.echo.v1.EchoService` on the API listener, for tests and benchmarks.
    public var enableEcho = false
    /// The API group of documents: `apiVersion: GROUP/v1`.
    public var apiGroup = "trellis.dev"
    public var logLevel: Logger.Level = .info
    public var logFormat: LogFormat = .logfmt
    /// Event loops; 0 means one per core.
    public var loops = 0
    public var limits = ServerLimits()
    /// Resource steps the engine runs at once, overall and per driver.
    public var parallelism = 64
    public var parallelismPerDriver = 32
    /// The CA key that signs joining agents' certificates, without --dev.
    public var clientCAKey: String?
    /// How often agents send heartbeats.
    public var agentHeartbeat: Duration = .seconds(10)
    /// How long an agent may stay silent before it is Unreachable.
    public var agentGrace: Duration = .seconds(30)
    /// How often agents observe the resources they hold.
    public var observeInterval: Duration = .seconds(10)
    /// How long a step waits for an agent that matches its placement.
    public var placementWait: Duration = .seconds(10)
    /// Whether --dev runs the in-process agent `local`.
    public var localAgent = true

    public static let usage = """
        usage: trellisd --dev [--data DIR] [--listen HOST:PORT] [--agent-listen HOST:PORT]
               trellisd --data DIR --tls-cert FILE --tls-key FILE --client-ca FILE [...]

        options:
          --dev                    generate a CA, server certificate and admin token in DIR
          --data DIR               data directory (default .trellis)
          --listen HOST:PORT       API listener (default 127.0.0.1:7443)
          --agent-listen HOST:PORT agent listener, mutual TLS (default 127.0.0.1:7444)
          --tls-cert FILE          server certificate chain (PEM), without --dev
          --tls-key FILE           server private key (PEM), without --dev
          --client-ca FILE         CA that agent certificates must chain to, without --dev
          --client-ca-key FILE     that CA's key, to sign the certificates of joining agents
          --agent-heartbeat DUR    how often agents send heartbeats (default 10s)
          --agent-grace DUR        silence after which an agent is Unreachable (default 30s)
          --observe-interval DUR   how often agents observe their resources (default 10s)
          --placement-wait DUR     how long a step waits for a matching agent (default 10s)
          --no-local-agent         with --dev, run no in-process agent
          --log-level LEVEL        trace, debug, info, warning, error (default info)
          --log-format FORMAT      logfmt or json (default logfmt)
          --loops N                event loops (default: one per core)
          --max-connections N      connections per listener (default 16384)
          --max-streams N          concurrent streams per connection (default 1024)
          --max-frame-size BYTES   largest frame accepted (default 4194304)
          --handshake-timeout SEC  TLS handshake limit (default 10)
          --max-handshakes N       TLS handshakes in progress at once per listener (default 128)
          --idle-timeout SEC       close connections idle this long (default 300)
          --drain-timeout SEC      graceful shutdown limit for open calls (default 10)
          --api-group GROUP        API group of documents, apiVersion GROUP/v1 (default trellis.dev)
          --parallelism N          resource steps running at once (default 64)
          --parallelism-per-driver N  of those, per driver (default 32)
          --enable-echo            serve trellis.echo.v1.EchoService (tests, benchmarks)
        """

    public init() {}

    /// Parses `arguments` (without the program name).
    public init(parsing arguments: [String]) throws(UsageError) {
        var scanner = ArgumentScanner(arguments)
        dev = scanner.flag("--dev")
        enableEcho = scanner.flag("--enable-echo")
        if let value = try scanner.value("--data") { dataDirectory = value }
        if let value = try scanner.value("--listen") { listen = value }
        if let value = try scanner.value("--agent-listen") { agentListen = value }
        if let value = try scanner.value("--api-group") { apiGroup = value }
        tlsCertificate = try scanner.value("--tls-cert")
        tlsKey = try scanner.value("--tls-key")
        clientCA = try scanner.value("--client-ca")
        clientCAKey = try scanner.value("--client-ca-key")
        localAgent = !scanner.flag("--no-local-agent")
        if let value = try scanner.value("--agent-heartbeat") {
            agentHeartbeat = try Self.duration(value, "--agent-heartbeat")
        }
        if let value = try scanner.value("--agent-grace") { agentGrace = try Self.duration(value, "--agent-grace") }
        if let value = try scanner.value("--placement-wait") {
            placementWait = try Self.duration(value, "--placement-wait")
        }
        if let value = try scanner.value("--observe-interval") {
            observeInterval = try Self.duration(value, "--observe-interval")
        }
        if let value = try scanner.value("--log-level") {
            guard let level = Logger.Level(name: value) else { throw UsageError("--log-level: unknown level \(value)") }
            logLevel = level
        }
        if let value = try scanner.value("--log-format") {
            guard let format = LogFormat(rawValue: value) else { throw UsageError("--log-format: use logfmt or json") }
            logFormat = format
        }
        if let value = try scanner.value("--loops") { loops = try Self.integer(value, "--loops", min: 1) }
        if let value = try scanner.value("--max-connections") {
            limits.maxConnections = try Self.integer(value, "--max-connections", min: 1)
        }
        if let value = try scanner.value("--max-streams") {
            limits.maxConcurrentStreams = try Self.integer(value, "--max-streams", min: 1)
        }
        if let value = try scanner.value("--max-frame-size") {
            limits.maxFrameSize = try Self.integer(value, "--max-frame-size", min: 1024)
        }
        if let value = try scanner.value("--handshake-timeout") {
            limits.handshakeTimeout = try Self.seconds(value, "--handshake-timeout")
        }
        if let value = try scanner.value("--max-handshakes") {
            limits.maxConcurrentHandshakes = try Self.integer(value, "--max-handshakes", min: 1)
        }
        if let value = try scanner.value("--idle-timeout") {
            limits.idleTimeout = try Self.seconds(value, "--idle-timeout")
        }
        if let value = try scanner.value("--drain-timeout") {
            limits.drainTimeout = try Self.seconds(value, "--drain-timeout")
        }
        if let value = try scanner.value("--parallelism") {
            parallelism = try Self.integer(value, "--parallelism", min: 1)
        }
        if let value = try scanner.value("--parallelism-per-driver") {
            parallelismPerDriver = try Self.integer(value, "--parallelism-per-driver", min: 1)
        }
        try scanner.finish()

        if !dev {
            let missing = [("--tls-cert", tlsCertificate), ("--tls-key", tlsKey), ("--client-ca", clientCA)]
                .filter { $0.1 == nil }.map(\.0)
            if !missing.isEmpty {
                throw UsageError("without --dev, \(missing.joined(separator: ", ")) must be given")
            }
        }
    }

    private static func integer(_ text: String, _ flag: String, min: Int) throws(UsageError) -> Int {
        guard let value = Int(text), value >= min else {
            throw UsageError("\(flag): expected a whole number ≥ \(min), got \(text)")
        }
        return value
    }

    private static func duration(_ text: String, _ flag: String) throws(UsageError) -> Duration {
        guard let value = SpecDuration.parse(text), value > .zero else {
            throw UsageError("\(flag): expected a duration such as 500ms, 10s or 2m, got \(text)")
        }
        return value
    }

    private static func seconds(_ text: String, _ flag: String) throws(UsageError) -> Duration {
        guard let value = Double(text), value > 0 else {
            throw UsageError("\(flag): expected seconds > 0, got \(text)")
        }
        return .milliseconds(Int64(value * 1000))
    }
}
