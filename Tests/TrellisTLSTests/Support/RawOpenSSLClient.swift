import COpenSSL

/// A client built directly on OpenSSL, to offer what Trellis contexts never would (old
/// protocol versions, non-AEAD ciphers) and check that the server refuses it.
struct RawOpenSSLClient: ~Copyable {
    private let context: OpaquePointer
    private let ssl: OpaquePointer
    /// The OpenSSL reasons of the last failure.
    private(set) var reasons: [String] = []

    /// A client limited to `version` (e.g. `TLS1_1_VERSION`) and the TLS 1.2-and-below
    /// `cipherList`; security level 0 so that OpenSSL agrees to offer them at all.
    init(fileDescriptor: Int32, version: Int32, cipherList: String, resuming session: OpaquePointer? = nil) throws {
        guard let context = SSL_CTX_new(TLS_client_method()) else {
            throw SocketFailure(description: "SSL_CTX_new failed")
        }
        guard trellis_SSL_CTX_set_min_proto_version(context, version) == 1,
            trellis_SSL_CTX_set_max_proto_version(context, version) == 1,
            SSL_CTX_set_cipher_list(context, cipherList + ":@SECLEVEL=0") == 1,
            let ssl = SSL_new(context), SSL_set_fd(ssl, fileDescriptor) == 1
        else {
            SSL_CTX_free(context)
            throw SocketFailure(description: "configuring the raw OpenSSL client failed")
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        SSL_set_connect_state(ssl)
        if let session { _ = SSL_set_session(ssl, session) }
        self.context = context
        self.ssl = ssl
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    /// The session after the handshake, with a reference the caller frees.
    func session() -> OpaquePointer? { SSL_get1_session(ssl) }

    /// Whether the handshake resumed the session it was given.
    var resumedSession: Bool { SSL_session_reused(ssl) == 1 }

    /// One non-blocking handshake step.
    mutating func handshake() -> Step {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 { return .done }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ: return .wantRead
        case SSL_ERROR_WANT_WRITE: return .wantWrite
        default:
            while case let code = ERR_get_error(), code != 0 {
                reasons.append(String(cString: ERR_reason_error_string(code)))
            }
            return .failed
        }
    }
}
