import COpenSSL

/// Whether a context or connection is the server or the client side of a handshake.
public enum TLSRole: Sendable, Equatable {
    /// Accepts handshakes.
    case server
    /// Initiates handshakes.
    case client
}

/// A configured OpenSSL `SSL_CTX`: the certificates, trust and protocol policy shared by
/// every connection of one listener or one dialer.
///
/// Every context follows Mozilla's "intermediate" recommendation: TLS 1.2 minimum and 1.3
/// preferred, ECDHE key exchange with AEAD ciphers only, the groups X25519, P-256 and
/// P-384, no compression, no renegotiation, the client's cipher preference. Sessions are
/// resumed only in TLS 1.3, with tickets from a server given a ``SessionTicketKey``.
/// Buffers are released while a connection is idle.
///
/// Make one context per configuration and share it: creating one parses and checks every
/// certificate and key. The context is freed when the last ``TLSConnection`` using it and
/// the last other reference are gone.
public final class TLSContext: @unchecked Sendable {
    // @unchecked Sendable: the SSL_CTX is fully configured in the initialiser and never
    // changed afterwards; OpenSSL allows a configured SSL_CTX to be used by many threads
    // at once (creating SSL objects from it is thread-safe). The ALPN list is immutable.

    /// The `SSL_CTX*`, owned by this object.
    let pointer: OpaquePointer
    /// Which side of the handshake connections from this context take.
    public let role: TLSRole
    /// For a client context, the name sent as SNI (`nil` for an address).
    let sniHostName: String?
    /// The server's ALPN protocols, read by the selection callback; kept alive by `self`.
    private let applicationProtocols: ApplicationProtocolList?
    /// For a client context that resumes sessions, the newest session a server gave it;
    /// the context's ex-data points to it, kept alive by `self`.
    let sessionSlot: ClientSessionSlot?

    private init(
        pointer: OpaquePointer,
        role: TLSRole,
        sniHostName: String?,
        applicationProtocols: ApplicationProtocolList?,
        sessionSlot: ClientSessionSlot? = nil
    ) {
        self.pointer = pointer
        self.role = role
        self.sniHostName = sniHostName
        self.applicationProtocols = applicationProtocols
        self.sessionSlot = sessionSlot
    }

    deinit {
        SSL_CTX_free(pointer)
    }

    /// Makes a server context: parses the identity, loads the client trust roots if client
    /// certificates are required, and applies the protocol policy.
    ///
    /// - Throws: ``TLSError`` with code `.configuration` when a PEM does not parse, the key
    ///   does not match the certificate, or OpenSSL refuses a setting.
    public static func server(_ configuration: TLSServerConfiguration) throws(TLSError) -> TLSContext {
        let context = try makeContext(method: TLS_server_method(), side: "server")
        do throws(TLSError) {
            try applyIntermediatePolicy(context, side: "server")
            try useIdentity(configuration.identity, in: context, side: "server")

            switch configuration.clientAuthentication {
            case .none:
                SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
            case .required(let trustRootsPEM):
                try addTrustRoots(trustRootsPEM, to: context, advertise: true, side: "server")
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            case .optional(let trustRootsPEM):
                try addTrustRoots(trustRootsPEM, to: context, advertise: true, side: "server")
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            }
            if let key = configuration.sessionTicketKey {
                try enableSessionTickets(key, in: context)
            }

            var protocols: ApplicationProtocolList? = nil
            if !configuration.applicationProtocols.isEmpty {
                let list = try ApplicationProtocolList(configuration.applicationProtocols)
                list.installSelection(in: context)
                protocols = list
            }
            return TLSContext(
                pointer: context,
                role: .server,
                sniHostName: nil,
                applicationProtocols: protocols
            )
        } catch {
            SSL_CTX_free(context)
            throw error
        }
    }

    /// Makes a client context: loads the trust roots, the optional client identity, the
    /// expected server name, and applies the protocol policy.
    ///
    /// The server's chain is verified, and its certificate must carry
    /// ``TLSClientConfiguration/serverName`` as a DNS or IP subject alternative name,
    /// unless ``TLSClientConfiguration/verifiesServer`` is `false`: then neither is checked
    /// and the name is only sent as SNI.
    ///
    /// - Throws: ``TLSError`` with code `.configuration` when a PEM does not parse, the
    ///   server name is empty, or OpenSSL refuses a setting.
    public static func client(_ configuration: TLSClientConfiguration) throws(TLSError) -> TLSContext {
        let context = try makeContext(method: TLS_client_method(), side: "client")
        do throws(TLSError) {
            try applyIntermediatePolicy(context, side: "client")
            if let identity = configuration.identity {
                try useIdentity(identity, in: context, side: "client")
            }
            let sniHostName: String?
            if configuration.verifiesServer {
                if let roots = configuration.trustRootsPEM {
                    try addTrustRoots(roots, to: context, advertise: false, side: "client")
                } else if SSL_CTX_set_default_verify_paths(context) != 1 {
                    throw .openSSL(
                        .configuration, "loading the default trust store",
                        function: "SSL_CTX_set_default_verify_paths")
                }
                SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
                sniHostName = try expectServerName(configuration.serverName, in: context)
            } else {
                SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
                sniHostName = try unverifiedServerName(configuration.serverName)
            }

            if !configuration.applicationProtocols.isEmpty {
                let list = try ApplicationProtocolList(configuration.applicationProtocols)
                try list.offer(in: context)
            }
            var slot: ClientSessionSlot? = nil
            if configuration.resumesSessions {
                slot = ClientSessionSlot()
                enableClientSessionReuse(in: context, slot: slot!)
            }
            return TLSContext(
                pointer: context,
                role: .client,
                sniHostName: sniHostName,
                applicationProtocols: nil,
                sessionSlot: slot
            )
        } catch {
            SSL_CTX_free(context)
            throw error
        }
    }

    private static func makeContext(
        method: OpaquePointer?,
        side: String
    ) throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let method, let context = SSL_CTX_new(method) else {
            throw .openSSL(.configuration, "creating a \(side) context", function: "SSL_CTX_new")
        }
        return context
    }
}
