/// A certificate chain and its private key, as PEM, presented to the peer in a handshake.
public struct TLSIdentity: Sendable, Equatable {
    /// The leaf certificate first, then any intermediates, as concatenated PEM blocks.
    public var certificateChainPEM: String
    /// The unencrypted private key of the leaf certificate, as PEM.
    public var privateKeyPEM: String

    /// Creates an identity from PEM text; it is parsed and checked when a context is made.
    public init(certificateChainPEM: String, privateKeyPEM: String) {
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
    }
}

/// The ALPN protocol every Trellis endpoint speaks.
public let trellisApplicationProtocol = "trellis/1"

/// How a server context treats client certificates.
public enum TLSClientAuthentication: Sendable, Equatable {
    /// Clients are not asked for a certificate.
    case none
    /// Every client must present a certificate that verifies against these roots (PEM);
    /// a handshake without one, or with one that does not verify, fails.
    case required(trustRootsPEM: String)
    /// Clients are asked for a certificate but may present none.
    ///
    /// A certificate that is presented must verify against these roots (PEM), or the
    /// handshake fails exactly as with ``required(trustRootsPEM:)``; a client presenting
    /// none completes the handshake and its connection's ``TLSConnection/peerCertificate``
    /// is `nil`. For listeners where some calls need no identity (an agent joining) and
    /// the rest check the peer certificate themselves.
    case optional(trustRootsPEM: String)
}

/// What a server context presents and demands.
///
/// Protocol versions, ciphers and groups are not configurable: every context follows
/// Mozilla's "intermediate" recommendation (see ``TLSContext``).
public struct TLSServerConfiguration: Sendable, Equatable {
    /// The server's certificate chain and key.
    public var identity: TLSIdentity
    /// Whether clients must present a certificate, and which roots it must chain to.
    public var clientAuthentication: TLSClientAuthentication
    /// The ALPN protocols accepted, most preferred first.
    ///
    /// A client that offers ALPN without any of these is refused with the
    /// `no_application_protocol` alert; a client that offers no ALPN is accepted.
    public var applicationProtocols: [String]
    /// The key session tickets are encrypted with; `nil` (the default) issues none, so
    /// every connection does a full handshake. See ``SessionTicketKey``.
    public var sessionTicketKey: SessionTicketKey?

    /// Creates a server configuration.
    public init(
        identity: TLSIdentity,
        clientAuthentication: TLSClientAuthentication = .none,
        applicationProtocols: [String] = [trellisApplicationProtocol],
        sessionTicketKey: SessionTicketKey? = nil
    ) {
        self.identity = identity
        self.clientAuthentication = clientAuthentication
        self.applicationProtocols = applicationProtocols
        self.sessionTicketKey = sessionTicketKey
    }
}

/// What a client context trusts, presents and expects of the server.
public struct TLSClientConfiguration: Sendable, Equatable {
    /// The name the server's certificate must carry: a DNS name, or an IPv4 or IPv6
    /// address. DNS names are also sent as SNI; addresses are not (RFC 6066).
    public var serverName: String
    /// The roots the server's chain must verify against (PEM); `nil` uses the system's
    /// default trust store.
    public var trustRootsPEM: String?
    /// A client certificate to present when the server asks for one.
    public var identity: TLSIdentity?
    /// The ALPN protocols offered, most preferred first; empty offers none.
    public var applicationProtocols: [String]
    /// Whether the server's certificate chain and name are verified; `true` unless set.
    ///
    /// With `false`, any server certificate is accepted and ``trustRootsPEM`` is ignored:
    /// the connection is encrypted but the peer is not authenticated. Use it only to fetch
    /// a certificate authority that is then checked against a fingerprint known in advance
    /// (an agent's join token pins its coordinator's CA this way), never to send anything
    /// secret or to trust what the server says without such a check.
    public var verifiesServer: Bool
    /// Whether the context keeps the newest session ticket a server sends and offers it on
    /// its next connection; `true` unless set. A server without a ticket key sends none.
    public var resumesSessions: Bool

    /// Creates a client configuration.
    public init(
        serverName: String,
        trustRootsPEM: String?,
        identity: TLSIdentity? = nil,
        applicationProtocols: [String] = [trellisApplicationProtocol],
        verifiesServer: Bool = true,
        resumesSessions: Bool = true
    ) {
        self.serverName = serverName
        self.trustRootsPEM = trustRootsPEM
        self.identity = identity
        self.applicationProtocols = applicationProtocols
        self.verifiesServer = verifiesServer
        self.resumesSessions = resumesSessions
    }
}
