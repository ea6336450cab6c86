import TrellisLogging
import TrellisTLS

/// Who is on the other end of a connection.
public struct PeerIdentity: Sendable {
    /// The peer's address, e.g. `127.0.0.1:51234`.
    public var address: String
    /// The verified client certificate, on listeners that require one.
    public var certificate: PeerCertificate?
    /// Whether the connection resumed an earlier TLS session with a ticket, so that its
    /// certificate was verified when that session began rather than now.
    public var resumedSession: Bool

    public init(address: String, certificate: PeerCertificate?, resumedSession: Bool = false) {
        self.address = address
        self.certificate = certificate
        self.resumedSession = resumedSession
    }
}

/// What a handler knows about the call it serves.
public struct ServerCallContext: Sendable {
    /// The method path, e.g. `/trellis.v1.HealthService/Check`.
    public let method: String
    /// The metadata of the Open frame.
    public let metadata: [String: String]
    /// The connection's peer.
    public let peer: PeerIdentity
    /// The client's `request-id`, or one the server generated.
    public let requestID: String
    /// When the caller stops waiting, if it said.
    public let deadline: ContinuousClock.Instant?
    /// The connection's logger; ``logger`` adds the call's metadata when first asked.
    private let connectionLogger: Logger

    /// A logger carrying `request.id`, `rpc.method` and `peer.address`. Built on use, so
    /// that calls which log nothing pay nothing for it.
    public var logger: Logger {
        connectionLogger.with("request.id", requestID).with("rpc.method", method)
    }
    /// Set by an interceptor that authenticated the caller, e.g. `admin`.
    public var principal: String?

    public init(
        method: String,
        metadata: [String: String],
        peer: PeerIdentity,
        requestID: String,
        deadline: ContinuousClock.Instant?,
        connectionLogger logger: Logger,
        principal: String? = nil
    ) {
        self.method = method
        self.metadata = metadata
        self.peer = peer
        self.requestID = requestID
        self.deadline = deadline
        self.connectionLogger = logger
        self.principal = principal
    }

    /// The bearer token from `authorization: Bearer TOKEN`, if present.
    public var bearerToken: String? {
        guard let value = metadata["authorization"] else { return nil }
        let prefix = "Bearer "
        guard value.hasPrefix(prefix) else { return nil }
        return String(value.dropFirst(prefix.count))
    }
}
