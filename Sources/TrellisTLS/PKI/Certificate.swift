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

    /// What the certificate says: subject, names, validity, usages.
    public func info() throws(TLSError) -> CertificateInfo {
        try CertificateInfo(x509: pointer)
    }

    /// Writes the certificate as PEM to `path` with mode 0644, replacing any file there.
    public func write(to path: String) throws(TLSError) {
        try FileWriting.replace(path, with: pemRepresentation(), mode: 0o644, what: "the certificate")
    }
}
