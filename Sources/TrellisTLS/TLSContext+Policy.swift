import COpenSSL

/// Mozilla's "intermediate" server-side TLS recommendation, applied to both sides.
extension TLSContext {
    /// TLS 1.2 suites: ECDHE key exchange with AEAD ciphers only. DHE suites are left out,
    /// so no finite-field group needs configuring.
    static let tls12Ciphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    /// TLS 1.3 suites, all AEAD by definition.
    static let tls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

    /// Key exchange groups, most preferred first.
    static let groups = "X25519:prime256v1:secp384r1"

    /// The longest chain accepted below the leaf: the Trellis CA signs leaves directly,
    /// and a few intermediates leave room for an organisation's own hierarchy.
    static let maximumVerifyDepth: Int32 = 4

    static func applyIntermediatePolicy(_ context: OpaquePointer, side: String) throws(TLSError) {
        let what = "configuring the \(side) context"
        ERR_clear_error()
        guard trellis_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_set_min_proto_version")
        }
        // 0 is "the highest this OpenSSL supports", which is TLS 1.3.
        guard trellis_SSL_CTX_set_max_proto_version(context, 0) == 1 else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_set_max_proto_version")
        }
        guard SSL_CTX_set_cipher_list(context, tls12Ciphers) == 1 else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_set_cipher_list")
        }
        guard SSL_CTX_set_ciphersuites(context, tls13Suites) == 1 else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_set_ciphersuites")
        }
        guard trellis_SSL_CTX_set1_groups_list(context, groups) == 1 else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_set1_groups_list")
        }

        // Resumption is off unless asked for (a server's SessionTicketKey, a client's
        // resumesSessions): no tickets and no session cache, which keeps per-connection and
        // per-context memory small.
        // An EOF without close_notify reads as a close: every message on the wire carries
        // its own length, so the frame layer notices a truncated stream by itself.
        _ = SSL_CTX_set_options(
            context,
            trellis_SSL_OP_NO_COMPRESSION() | trellis_SSL_OP_NO_RENEGOTIATION()
                | trellis_SSL_OP_NO_TICKET() | trellis_SSL_OP_IGNORE_UNEXPECTED_EOF())
        _ = SSL_CTX_clear_options(context, trellis_SSL_OP_CIPHER_SERVER_PREFERENCE())
        _ = trellis_SSL_CTX_set_session_cache_mode(context, Int(SSL_SESS_CACHE_OFF))
        guard SSL_CTX_set_num_tickets(context, 0) == 1 else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_set_num_tickets")
        }

        // Swift buffers may move between a retried write and its repetition; the event
        // loop wants partial writes; idle connections give their buffers back. The chain
        // sent is exactly the configured one: without NO_AUTO_CHAIN OpenSSL would complete
        // it from the trust store and send the root along too.
        let modes =
            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE
            | SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN
        _ = trellis_SSL_CTX_set_mode(context, Int(modes))

        SSL_CTX_set_verify_depth(context, maximumVerifyDepth)
    }
}
