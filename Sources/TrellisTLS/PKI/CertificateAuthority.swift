import COpenSSL

/// A certificate and its key, as issued by a ``CertificateAuthority``.
public struct IssuedCertificate: Sendable {
    /// The certificate.
    public let certificate: Certificate
    /// Its private key.
    public let privateKey: PrivateKey

    /// Pairs a certificate with its key.
    public init(certificate: Certificate, privateKey: PrivateKey) {
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// The pair as PEM, ready for a ``TLSServerConfiguration`` or ``TLSClientConfiguration``.
    public func identity() throws(TLSError) -> TLSIdentity {
        TLSIdentity(
            certificateChainPEM: try certificate.pemRepresentation(),
            privateKeyPEM: try privateKey.pemRepresentation())
    }
}

/// What a leaf certificate may be used for.
public enum CertificateUsage: Sendable, Equatable {
    /// TLS server authentication (extended key usage serverAuth).
    case server
    /// TLS client authentication (extended key usage clientAuth), e.g. an agent.
    case client
}

/// A certificate authority that issues the certificates of coordinators and agents.
///
/// Certificates it makes are X.509 v3 with EC P-256 keys, SHA-256 signatures and random
/// 128-bit serial numbers. Its own certificate is self-signed, marked CA with path length
/// 0 (it signs leaves only), and valid for 10 years by default.
public struct CertificateAuthority: Sendable {
    /// The authority's certificate, the trust root to give to peers.
    public let certificate: Certificate
    /// The authority's signing key.
    public let privateKey: PrivateKey

    /// Generates a new authority with a fresh key and a self-signed certificate.
    public static func generate(
        commonName: String = "Trellis CA",
        validity: CertificateValidity = .authorityDefault
    ) throws(TLSError) -> CertificateAuthority {
        let key = try PrivateKey.generate()
        let builder = CertificateBuilder(
            commonName: commonName,
            subjectKey: key.pointer,
            validity: validity,
            extensions: [
                (NID_basic_constraints, "critical,CA:TRUE,pathlen:0"),
                (NID_key_usage, "critical,keyCertSign,cRLSign"),
                (NID_subject_key_identifier, "hash"),
            ])
        let certificate = try builder.sign(issuer: nil, issuerKey: key.pointer)
        return CertificateAuthority(certificate: Certificate(taking: certificate), privateKey: key)
    }

    /// Loads an authority saved as PEM, to sign with.
    ///
    /// - Throws: ``TLSError`` with code `.certificate` when either PEM does not parse, the
    ///   key does not belong to the certificate, or the certificate is not a CA.
    public init(certificatePEM: String, privateKeyPEM: String) throws(TLSError) {
        let certificate = try Certificate(pem: certificatePEM)
        let key = try PrivateKey(pem: privateKeyPEM)
        ERR_clear_error()
        guard X509_check_private_key(certificate.pointer, key.pointer) == 1 else {
            throw .openSSL(.certificate, "loading the certificate authority", function: "X509_check_private_key")
        }
        let info = try certificate.info()
        guard info.isCA, info.keyUsage?.contains(.keyCertSign) ?? true else {
            throw TLSError(
                code: .certificate,
                message: "tls: loading the certificate authority failed: \(info.subject) is not a CA certificate")
        }
        self.init(certificate: certificate, privateKey: key)
    }

    private init(certificate: Certificate, privateKey: PrivateKey) {
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// Issues a server certificate with a new key for the given names; the common name is
    /// the first DNS name, or the first address.
    public func issueServerCertificate(
        for names: SubjectAlternativeNames,
        validity: CertificateValidity = .leafDefault
    ) throws(TLSError) -> IssuedCertificate {
        let key = try PrivateKey.generate()
        let commonName = names.dnsNames.first ?? names.ipAddresses.first ?? ""
        let certificate = try issueLeaf(
            commonName: commonName, names: names, subjectKey: key.pointer, validity: validity, usage: .server)
        return IssuedCertificate(certificate: certificate, privateKey: key)
    }

    /// Issues a client certificate with a new key, for tests and the in-process agent; a
    /// remote agent keeps its key and sends a signing request to ``sign(csrPEM:validity:usage:)``.
    public func issueClientCertificate(
        commonName: String,
        validity: CertificateValidity = .leafDefault
    ) throws(TLSError) -> IssuedCertificate {
        let key = try PrivateKey.generate()
        let names = try Self.namesForCommonName(commonName)
        let certificate = try issueLeaf(
            commonName: commonName, names: names, subjectKey: key.pointer, validity: validity, usage: .client)
        return IssuedCertificate(certificate: certificate, privateKey: key)
    }

    /// Signs a PKCS#10 request, issuing a certificate for its key and common name.
    ///
    /// The request's signature is verified (the requester holds the key). Only its common
    /// name and public key are used: the certificate carries that name as its subject and
    /// as a DNS subject alternative name; extensions the request asks for are ignored.
    ///
    /// - Throws: ``TLSError`` with code `.certificate` when the PEM does not parse, the
    ///   signature does not verify, the key is weaker than 112 bits, or the common name is
    ///   missing or not a valid DNS name.
    public func sign(
        csrPEM: String,
        validity: CertificateValidity = .leafDefault,
        usage: CertificateUsage
    ) throws(TLSError) -> Certificate {
        try sign(SigningRequest(pem: csrPEM), validity: validity, usage: usage)
    }

    /// Signs a request already parsed and checked, issuing a certificate for its key and
    /// common name; otherwise the same as ``sign(csrPEM:validity:usage:)``.
    ///
    /// - Throws: ``TLSError`` with code `.certificate` when the common name is not a valid
    ///   DNS name, or OpenSSL fails to build or sign the certificate.
    public func sign(
        _ request: SigningRequest,
        validity: CertificateValidity = .leafDefault,
        usage: CertificateUsage
    ) throws(TLSError) -> Certificate {
        let names = try Self.namesForCommonName(request.commonName)
        return try issueLeaf(
            commonName: request.commonName, names: names, subjectKey: request.publicKey,
            validity: validity, usage: usage)
    }

    private func issueLeaf(
        commonName: String,
        names: SubjectAlternativeNames,
        subjectKey: OpaquePointer,
        validity: CertificateValidity,
        usage: CertificateUsage
    ) throws(TLSError) -> Certificate {
        let builder = CertificateBuilder(
            commonName: commonName,
            subjectKey: subjectKey,
            validity: validity,
            extensions: [
                (NID_basic_constraints, "critical,CA:FALSE"),
                (NID_key_usage, "critical,digitalSignature"),
                (NID_ext_key_usage, usage == .server ? "serverAuth" : "clientAuth"),
                (NID_subject_key_identifier, "hash"),
                (NID_authority_key_identifier, "keyid:always"),
                (NID_subject_alt_name, try names.extensionValue()),
            ])
        let certificate = try builder.sign(issuer: self.certificate.pointer, issuerKey: privateKey.pointer)
        return Certificate(taking: certificate)
    }

    private static func namesForCommonName(_ commonName: String) throws(TLSError) -> SubjectAlternativeNames {
        guard SubjectAlternativeNames.isValidDNSName(commonName, allowWildcard: false) else {
            throw TLSError(
                code: .certificate,
                message:
                    "tls: common name \"\(commonName)\" is not a valid DNS name, so it cannot be a subject alternative name"
            )
        }
        return SubjectAlternativeNames(dnsNames: [commonName])
    }
}
