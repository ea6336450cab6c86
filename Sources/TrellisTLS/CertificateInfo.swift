/// What a certificate says about its subject, read out of an X.509 certificate.
///
/// Used for the peer of a connection (``TLSConnection/peerCertificate``) and for
/// certificates held as PEM (``init(pem:)``), e.g. to decide when to renew one.
public struct CertificateInfo: Sendable, Equatable {
    /// The subject in RFC 2253 form, e.g. `CN=agent-1,O=Trellis`.
    public var subject: String
    /// The subject's common name, if it has one.
    public var commonName: String?
    /// The issuer in RFC 2253 form.
    public var issuer: String
    /// The serial number, as uppercase hex.
    public var serialNumberHex: String
    /// The DNS names among the subject alternative names.
    public var dnsNames: [String]
    /// The IP addresses among the subject alternative names, in canonical text form.
    public var ipAddresses: [String]
    /// The start of validity, in seconds since the Unix epoch.
    public var notBefore: Int64
    /// The end of validity, in seconds since the Unix epoch.
    public var notAfter: Int64
    /// Whether basic constraints mark this a certificate authority.
    public var isCA: Bool
    /// The basic constraints path length, if one is set.
    public var pathLengthConstraint: Int?
    /// The key usage extension, or `nil` when absent (any usage).
    public var keyUsage: KeyUsage?
    /// The extended key usage extension, or `nil` when absent (any purpose).
    public var extendedKeyUsage: ExtendedKeyUsage?
    /// The SHA-256 digest of the DER encoding, as lowercase hex without separators.
    public var sha256Fingerprint: String
    /// The SHA-256 digest of the DER SubjectPublicKeyInfo (the certificate's public key),
    /// as lowercase hex without separators.
    ///
    /// It stays the same across certificates issued for one key, so it identifies the
    /// holder of a key: compare it with ``SigningRequest/publicKeySHA256`` to recognise a
    /// request from a key already known. Empty only in a value built by hand without it.
    public var publicKeySHA256: String

    /// Creates a description from its parts; most callers read one from a certificate.
    public init(
        subject: String, commonName: String?, issuer: String, serialNumberHex: String,
        dnsNames: [String], ipAddresses: [String], notBefore: Int64, notAfter: Int64,
        isCA: Bool, pathLengthConstraint: Int?, keyUsage: KeyUsage?,
        extendedKeyUsage: ExtendedKeyUsage?, sha256Fingerprint: String,
        publicKeySHA256: String = ""
    ) {
        self.subject = subject
        self.commonName = commonName
        self.issuer = issuer
        self.serialNumberHex = serialNumberHex
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.isCA = isCA
        self.pathLengthConstraint = pathLengthConstraint
        self.keyUsage = keyUsage
        self.extendedKeyUsage = extendedKeyUsage
        self.sha256Fingerprint = sha256Fingerprint
        self.publicKeySHA256 = publicKeySHA256
    }
}

/// The certificate of the peer of a connection.
public typealias PeerCertificate = CertificateInfo

/// The key usage bits of a certificate that Trellis issues or checks.
public struct KeyUsage: OptionSet, Sendable, Hashable {
    /// OpenSSL's `KU_*` bits.
    public let rawValue: UInt32
    /// Creates a set from OpenSSL's `KU_*` bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Signing, e.g. a TLS handshake.
    public static let digitalSignature = KeyUsage(rawValue: 0x0080)
    /// Encrypting keys (RSA key transport).
    public static let keyEncipherment = KeyUsage(rawValue: 0x0020)
    /// Key agreement.
    public static let keyAgreement = KeyUsage(rawValue: 0x0008)
    /// Signing certificates.
    public static let keyCertSign = KeyUsage(rawValue: 0x0004)
    /// Signing revocation lists.
    public static let cRLSign = KeyUsage(rawValue: 0x0002)
}

/// The extended key usages of a certificate that matter to TLS.
public struct ExtendedKeyUsage: OptionSet, Sendable, Hashable {
    /// OpenSSL's `XKU_*` bits.
    public let rawValue: UInt32
    /// Creates a set from OpenSSL's `XKU_*` bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// TLS server authentication.
    public static let serverAuth = ExtendedKeyUsage(rawValue: 0x1)
    /// TLS client authentication.
    public static let clientAuth = ExtendedKeyUsage(rawValue: 0x2)
}
