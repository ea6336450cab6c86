import COpenSSL

extension PrivateKey {
    /// Makes a PKCS#10 certificate signing request for this key with `commonName` as its
    /// subject, signed with this key, as PEM (`BEGIN CERTIFICATE REQUEST`).
    ///
    /// An agent sends this to the coordinator when it joins, keeping the key to itself.
    public func makeCertificateSigningRequest(commonName: String) throws(TLSError) -> String {
        let what = "making a signing request for \"\(commonName)\""
        ERR_clear_error()
        guard let request = X509_REQ_new() else {
            throw .openSSL(.certificate, what, function: "X509_REQ_new")
        }
        defer { X509_REQ_free(request) }

        guard X509_REQ_set_version(request, Int(X509_REQ_VERSION_1)) == 1 else {
            throw .openSSL(.certificate, what, function: "X509_REQ_set_version")
        }
        guard let subject = X509_REQ_get_subject_name(request) else {
            throw .openSSL(.certificate, what, function: "X509_REQ_get_subject_name")
        }
        try CertificateBuilder.addCommonName(commonName, to: subject, what: what)
        guard X509_REQ_set_pubkey(request, pointer) == 1 else {
            throw .openSSL(.certificate, what, function: "X509_REQ_set_pubkey")
        }
        guard X509_REQ_sign(request, pointer, EVP_sha256()) > 0 else {
            throw .openSSL(.certificate, what, function: "X509_REQ_sign")
        }

        return try MemoryBIO.collectText(what: "a signing request") { bio throws(TLSError) in
            guard PEM_write_bio_X509_REQ(bio, request) == 1 else {
                throw .openSSL(.certificate, what, function: "PEM_write_bio_X509_REQ")
            }
        }
    }
}

/// A parsed, signature-checked PKCS#10 certificate signing request: its common name and
/// public key.
///
/// A coordinator reads a joining agent's request with this before it signs, to check the
/// name and to recognise the key (``publicKeySHA256``), then passes it to
/// ``CertificateAuthority/sign(_:validity:usage:)``.
public final class SigningRequest: @unchecked Sendable {
    // @unchecked Sendable: the X509_REQ and its key are never modified after the
    // initialiser; reading and signing with them from several threads is safe in OpenSSL 3.

    /// The `X509_REQ*`, owned by this object; it also owns ``publicKey``.
    private let request: OpaquePointer
    /// The requested key, valid while `self` lives.
    let publicKey: OpaquePointer
    /// The subject's common name.
    public let commonName: String
    /// The SHA-256 digest of the request's DER SubjectPublicKeyInfo, as lowercase hex; a
    /// certificate signed from this request has the same ``CertificateInfo/publicKeySHA256``.
    public let publicKeySHA256: String

    /// The least security strength accepted, in bits: that of RSA-2048 or P-224.
    static let minimumKeyStrength: Int32 = 112

    /// Parses the request in `pem` and checks it: its signature verifies (the requester
    /// holds the key), the key offers at least 112 bits of security, and the subject has a
    /// common name. The name is not checked further here; signing checks that it is a DNS
    /// name.
    ///
    /// - Throws: ``TLSError`` with code `.certificate` when any of that fails.
    public init(pem: String) throws(TLSError) {
        let what = "checking a signing request"
        let request = try PEMReading.signingRequest(pem, what: "signing request PEM")
        do throws(TLSError) {
            ERR_clear_error()
            guard let key = X509_REQ_get0_pubkey(request) else {
                throw .openSSL(.certificate, what, function: "X509_REQ_get0_pubkey")
            }
            guard X509_REQ_verify(request, key) == 1 else {
                let queue = OpenSSLErrorQueue.drain()
                throw TLSError(
                    code: .certificate,
                    message: "tls: \(what) failed: its signature does not verify (X509_REQ_verify)",
                    openSSLReasons: queue.lines)
            }
            let strength = EVP_PKEY_get_security_bits(key)
            guard strength >= Self.minimumKeyStrength else {
                throw TLSError(
                    code: .certificate,
                    message:
                        "tls: \(what) failed: the key offers \(strength) bits of security, below \(Self.minimumKeyStrength)"
                )
            }
            guard let subject = X509_REQ_get_subject_name(request),
                let commonName = try X509Text.commonName(of: subject)
            else {
                throw TLSError(code: .certificate, message: "tls: \(what) failed: the request has no common name")
            }
            self.publicKeySHA256 = try Digests.publicKeySHA256(of: key)
            self.request = request
            self.publicKey = key
            self.commonName = commonName
        } catch {
            X509_REQ_free(request)
            throw error
        }
    }

    deinit {
        X509_REQ_free(request)
    }
}
