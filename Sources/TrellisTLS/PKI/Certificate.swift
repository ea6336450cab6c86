import COpenSSL

/// An X.509 certificate held by OpenSSL (an `X509`).
public final class Certificate: @unchecked Sendable {
    // @unchecked Sendable: the X509 is never modified after creation; OpenSSL 3 guards its
    // lazily cached extension data with a lock, so concurrent reads are safe.

    /// The `X509*`, owned by this object.
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        X509_free(pointer)
    }

    /// Reads the first certificate in `pem`.
    ///
    /// - Throws: ``TLSError`` with code `.certificate` when the text holds no certificate.
    public convenience init(pem: String) throws(TLSError) {
        self.init(taking: try PEMReading.certificate(pem, what: "certificate PEM"))
    }

    /// The certificate as PEM (`BEGIN CERTIFICATE`).
    public func pemRepresentation() throws(TLSError) -> String {
        try MemoryBIO.collectText(what: "a certificate") { bio throws(TLSError) in
            ERR_clear_error()
            guard PEM_write_bio_X509(bio, pointer) == 1 else {
                throw .openSSL(.certificate, "encoding a certificate", function: "PEM_write_bio_X509")
            }
        }
    }

    /// The SHA-256 digest of the certificate's DER encoding, as lowercase hex without
    /// separators: the same value as ``CertificateInfo/sha256Fingerprint``, without
    /// reading the rest of the certificate.
    ///
    /// A join token carries this fingerprint of the coordinator's CA, so that an agent can
    /// check a CA it fetched over an unverified connection.
    ///
    /// - Throws: ``TLSError`` with code `.certificate` only when OpenSSL fails to encode or
    ///   hash the certificate (in practice, when memory runs out).
    public var fingerprintSHA256: String {
        get throws(TLSError) { try X509Text.sha256Fingerprint(of: pointer) }
    }

    /// The SHA-256 digest of the certificate's DER SubjectPublicKeyInfo, as lowercase hex:
    /// the same value as ``CertificateInfo/publicKeySHA256``.
    ///
    /// - Throws: ``TLSError`` with code `.certificate` only when OpenSSL fails to encode or
    ///   hash the key.
    public var publicKeySHA256: String {
        get throws(TLSError) { try X509Text.publicKeySHA256(of: pointer) }
    }

    /// What the certificate says: subject, names, validity, usages.
    public func info() throws(TLSError) -> CertificateInfo {
        try CertificateInfo(x509: pointer)
    }

    /// Writes the certificate as PEM to `path` with mode 0644, replacing any file there.
    public func write(to path: String) throws(TLSError) {
        try FileWriting.replace(path, with: pemRepresentation(), mode: 0o644, what: "the certificate")
    }
}
