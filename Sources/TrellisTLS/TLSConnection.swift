import COpenSSL

/// One TLS session over an already-connected, non-blocking socket.
///
/// The connection borrows the socket: it never closes the descriptor, and the caller
/// closes it after dropping (or shutting down) the connection. The `SSL*` is freed when
/// the connection is dropped.
///
/// Every operation is non-blocking and reports "would block" as a result, never as an
/// error: drive ``handshake()`` until `.complete`, then ``read(into:)`` and
/// ``write(_:)``, waiting for readability or writability as each result asks.
///
/// ```
///   init ──▶ handshake ──(.wantRead/.wantWrite: wait, call again)──▶ handshake
///                 │ .complete                                │ .failed
///                 ▼                                          ▼
///           read / write ──▶ shutdown ──▶ drop          drop (no shutdown)
/// ```
///
/// Threading: a connection has one owner at a time and is used from one thread at a
/// time, normally its event loop. It is noncopyable, so ownership can be moved (and sent
/// to another thread) but never shared.
///
/// The socket layer uses plain `write(2)`, so the process must ignore `SIGPIPE`.
public struct TLSConnection: ~Copyable, @unchecked Sendable {
    // @unchecked Sendable: an SSL object may be used by any thread as long as only one
    // uses it at a time. Being noncopyable, a connection has exactly one owner, so sending
    // it moves it and no two threads can reach the same SSL*.

    /// The `SSL*`, owned by this connection.
    let ssl: OpaquePointer
    /// Keeps the SSL_CTX and the ALPN list its callback reads alive.
    let context: TLSContext
    /// Which side of the handshake this connection takes.
    public let role: TLSRole
    /// The peer, as given at creation, for messages (e.g. `127.0.0.1:51234`).
    public let peerDescription: String
    /// A failure to report on the next read, found after a read had already got bytes.
    var deferredReadFailure: TLSReadResult?
    /// Set once any operation failed: OpenSSL forbids close_notify after a fatal error.
    var hasFailed = false

    /// Creates a connection over `fileDescriptor`, which must be connected and
    /// non-blocking, and which the connection does not own.
    ///
    /// - Precondition: `role` is the role of `context`.
    /// - Throws: ``TLSError`` with code `.io` when OpenSSL cannot allocate the session.
    public init(
        context: TLSContext,
        fileDescriptor: Int32,
        role: TLSRole,
        peerDescription: String
    ) throws(TLSError) {
        precondition(role == context.role, "a \(context.role) context cannot make a \(role) connection")
        ERR_clear_error()
        guard let ssl = SSL_new(context.pointer) else {
            throw .openSSL(.io, "setting up TLS with \(peerDescription)", function: "SSL_new")
        }
        // SSL_set_fd wraps the descriptor in a socket BIO that does not close it.
        guard SSL_set_fd(ssl, fileDescriptor) == 1 else {
            let error = TLSError.openSSL(.io, "setting up TLS with \(peerDescription)", function: "SSL_set_fd")
            SSL_free(ssl)
            throw error
        }
        switch role {
        case .server:
            SSL_set_accept_state(ssl)
        case .client:
            SSL_set_connect_state(ssl)
            if let name = context.sniHostName, trellis_SSL_set_tlsext_host_name(ssl, name) != 1 {
                let error = TLSError.openSSL(
                    .io, "setting up TLS with \(peerDescription)", function: "SSL_set_tlsext_host_name")
                SSL_free(ssl)
                throw error
            }
            context.sessionSlot?.offer(on: ssl)
        }
        self.ssl = ssl
        self.context = context
        self.role = role
        self.peerDescription = peerDescription
    }

    deinit {
        SSL_free(ssl)
    }
}
