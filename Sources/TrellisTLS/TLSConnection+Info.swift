import COpenSSL

/// What the handshake established. Meaningful once ``TLSConnection/handshake()`` has
/// returned `.complete`.
extension TLSConnection {
    /// The peer's certificate, or `nil` if it sent none (a client, when the server does
    /// not require one) or it cannot be read.
    ///
    /// Verification has already happened by the time the handshake completes: a peer
    /// certificate here chained to the context's trust roots. Each access parses the
    /// certificate; keep the value rather than asking again.
    public var peerCertificate: PeerCertificate? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(certificate) }
        return try? CertificateInfo(x509: certificate)
    }

    /// The ALPN protocol both sides agreed on, or `nil` if none was negotiated.
    public var negotiatedALPN: String? {
        var data: UnsafePointer<UInt8>? = nil
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// Whether the handshake resumed an earlier session (TLS 1.3 with a session ticket)
    /// rather than verifying certificates afresh.
    public var resumedSession: Bool { SSL_session_reused(ssl) == 1 }

    /// The protocol version in OpenSSL's spelling, e.g. `TLSv1.3`.
    public var protocolVersion: String {
        String(cString: SSL_get_version(ssl))
    }

    /// The cipher suite, e.g. `TLS_AES_128_GCM_SHA256`; empty before the handshake.
    public var cipher: String {
        guard let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(cipher) else {
            return ""
        }
        return String(cString: name)
    }
}
