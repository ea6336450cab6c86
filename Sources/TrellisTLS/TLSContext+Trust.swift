import COpenSSL
import Glibc

/// Loading certificates, keys, trust roots and the expected server name into a context.
extension TLSContext {
    static func useIdentity(
        _ identity: TLSIdentity,
        in context: OpaquePointer,
        side: String
    ) throws(TLSError) {
        let what = "loading the \(side) certificate"
        let chain = try PEMReading.certificates(
            identity.certificateChainPEM, what: "the \(side) certificate chain", code: .configuration)
        defer { for certificate in chain { X509_free(certificate) } }

        ERR_clear_error()
        guard SSL_CTX_use_certificate(context, chain[0]) == 1 else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_use_certificate")
        }
        for intermediate in chain.dropFirst() {
            guard trellis_SSL_CTX_add1_chain_cert(context, intermediate) == 1 else {
                throw .openSSL(.configuration, what, function: "SSL_CTX_add1_chain_cert")
            }
        }

        let key = try PEMReading.privateKey(
            identity.privateKeyPEM, what: "the \(side) private key", code: .configuration)
        defer { EVP_PKEY_free(key) }
        guard SSL_CTX_use_PrivateKey(context, key) == 1 else {
            throw .openSSL(.configuration, "loading the \(side) private key", function: "SSL_CTX_use_PrivateKey")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw .openSSL(
                .configuration, "matching the \(side) private key to its certificate",
                function: "SSL_CTX_check_private_key")
        }
    }

    /// Adds each certificate in `pem` to the context's trust store; a server also names
    /// them in its certificate request, so that clients can pick a matching certificate.
    static func addTrustRoots(
        _ pem: String,
        to context: OpaquePointer,
        advertise: Bool,
        side: String
    ) throws(TLSError) {
        let what = "loading the \(side) trust roots"
        let roots = try PEMReading.certificates(pem, what: "the \(side) trust roots", code: .configuration)
        defer { for root in roots { X509_free(root) } }

        ERR_clear_error()
        guard let store = SSL_CTX_get_cert_store(context) else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_get_cert_store")
        }
        for root in roots {
            guard X509_STORE_add_cert(store, root) == 1 else {
                throw .openSSL(.configuration, what, function: "X509_STORE_add_cert")
            }
            if advertise, SSL_CTX_add_client_CA(context, root) != 1 {
                throw .openSSL(.configuration, what, function: "SSL_CTX_add_client_CA")
            }
        }
    }

    /// Makes the context verify the server's certificate against `serverName`, matched
    /// against subject alternative names only, and returns the name to send as SNI.
    static func expectServerName(
        _ serverName: String,
        in context: OpaquePointer
    ) throws(TLSError) -> String? {
        let what = "setting the expected server name \"\(serverName)\""
        guard !serverName.isEmpty, !serverName.utf8.contains(0) else {
            throw TLSError(code: .configuration, message: "tls: \(what) failed: the name is empty or contains NUL")
        }
        ERR_clear_error()
        guard let parameters = SSL_CTX_get0_param(context) else {
            throw .openSSL(.configuration, what, function: "SSL_CTX_get0_param")
        }
        if IPAddressText.isAddress(serverName) {
            guard X509_VERIFY_PARAM_set1_ip_asc(parameters, serverName) == 1 else {
                throw .openSSL(.configuration, what, function: "X509_VERIFY_PARAM_set1_ip_asc")
            }
            return nil
        }
        X509_VERIFY_PARAM_set_hostflags(
            parameters,
            UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT))
        guard X509_VERIFY_PARAM_set1_host(parameters, serverName, 0) == 1 else {
            throw .openSSL(.configuration, what, function: "X509_VERIFY_PARAM_set1_host")
        }
        return serverName
    }

    /// The name to send as SNI when the server is not verified: the same checks on the
    /// name as ``expectServerName(_:in:)``, without asking OpenSSL to match it.
    static func unverifiedServerName(_ serverName: String) throws(TLSError) -> String? {
        guard !serverName.isEmpty, !serverName.utf8.contains(0) else {
            throw TLSError(
                code: .configuration,
                message: "tls: setting the server name \"\(serverName)\" failed: the name is empty or contains NUL")
        }
        return IPAddressText.isAddress(serverName) ? nil : serverName
    }
}
