import COpenSSL
import Glibc

/// Builds and signs X.509 v3 certificates.
struct CertificateBuilder {
    /// The subject's common name.
    var commonName: String
    /// The key the certificate is for (only its public half is used).
    var subjectKey: OpaquePointer
    /// The validity period.
    var validity: CertificateValidity
    /// Extensions as OpenSSL configuration values, e.g. `(NID_key_usage, "critical,digitalSignature")`,
    /// added in order (the subject key identifier must precede the authority key identifier).
    var extensions: [(nid: Int32, value: String)]

    /// Signs with `issuerKey`; `issuer` is the issuer's certificate, or `nil` for a
    /// self-signed certificate. Returns an `X509*` owned by the caller.
    func sign(issuer: OpaquePointer?, issuerKey: OpaquePointer) throws(TLSError) -> OpaquePointer {
        let what = "building the certificate for \"\(commonName)\""
        ERR_clear_error()
        guard let certificate = X509_new() else {
            throw .openSSL(.certificate, what, function: "X509_new")
        }
        do throws(TLSError) {
            guard X509_set_version(certificate, Int(X509_VERSION_3)) == 1 else {
                throw .openSSL(.certificate, what, function: "X509_set_version")
            }
            try setRandomSerialNumber(certificate, what: what)

            guard let subject = X509_get_subject_name(certificate) else {
                throw .openSSL(.certificate, what, function: "X509_get_subject_name")
            }
            try Self.addCommonName(commonName, to: subject, what: what)
            let issuerName = issuer.flatMap { X509_get_subject_name($0) } ?? subject
            guard X509_set_issuer_name(certificate, issuerName) == 1 else {
                throw .openSSL(.certificate, what, function: "X509_set_issuer_name")
            }

            guard ASN1_TIME_set(X509_getm_notBefore(certificate), time_t(validity.notBefore)) != nil,
                ASN1_TIME_set(X509_getm_notAfter(certificate), time_t(validity.notAfter)) != nil
            else {
                throw .openSSL(.certificate, what, function: "ASN1_TIME_set")
            }
            guard X509_set_pubkey(certificate, subjectKey) == 1 else {
                throw .openSSL(.certificate, what, function: "X509_set_pubkey")
            }

            try addExtensions(to: certificate, issuer: issuer ?? certificate, what: what)
            guard X509_sign(certificate, issuerKey, EVP_sha256()) > 0 else {
                throw .openSSL(.certificate, what, function: "X509_sign")
            }
            return certificate
        } catch {
            X509_free(certificate)
            throw error
        }
    }

    /// A random positive 128-bit serial number, as RFC 5280 and the CA/Browser Forum ask.
    private func setRandomSerialNumber(_ certificate: OpaquePointer, what: String) throws(TLSError) {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else {
            throw .openSSL(.certificate, what, function: "RAND_bytes")
        }
        bytes[0] &= 0x7F  // positive
        bytes[0] |= 0x40  // and a full 16 bytes long
        guard let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else {
            throw .openSSL(.certificate, what, function: "BN_bin2bn")
        }
        defer { BN_free(number) }
        guard BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil else {
            throw .openSSL(.certificate, what, function: "BN_to_ASN1_INTEGER")
        }
    }

    static func addCommonName(_ commonName: String, to name: OpaquePointer, what: String) throws(TLSError) {
        let bytes = Array(commonName.utf8)
        guard (1...64).contains(bytes.count), !bytes.contains(0) else {
            throw TLSError(
                code: .certificate,
                message: "tls: \(what) failed: a common name must be 1 to 64 bytes without NUL")
        }
        guard X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8, bytes, Int32(bytes.count), -1, 0) == 1
        else {
            throw .openSSL(.certificate, what, function: "X509_NAME_add_entry_by_NID")
        }
    }

    private func addExtensions(to certificate: OpaquePointer, issuer: OpaquePointer, what: String) throws(TLSError) {
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer, certificate, nil, nil, 0)
        for (nid, value) in extensions {
            guard let made = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw .openSSL(.certificate, "\(what): extension \(value)", function: "X509V3_EXT_conf_nid")
            }
            defer { X509_EXTENSION_free(made) }
            guard X509_add_ext(certificate, made, -1) == 1 else {
                throw .openSSL(.certificate, what, function: "X509_add_ext")
            }
        }
    }
}
