import Glibc
import TrellisTLS

/// A throwaway public key infrastructure in a fresh temporary directory, for suites that
/// need real certificates: a CA, a server certificate for `localhost` and `127.0.0.1`, a
/// client certificate, a client certificate from a different CA and an expired one.
///
/// Everything is available as PEM strings and as files in ``directory``. Call
/// ``removeFiles()`` when done; each instance is independent, so tests may run in parallel.
public struct TestPKI: Sendable {
    /// A certificate and key, as PEM and as files.
    public struct Identity: Sendable {
        /// The certificate, PEM.
        public let certificatePEM: String
        /// The unencrypted private key, PEM.
        public let privateKeyPEM: String
        /// Where the certificate was written.
        public let certificatePath: String
        /// Where the key was written (mode 0600).
        public let privateKeyPath: String

        /// The pair for a TLS configuration.
        public var tlsIdentity: TLSIdentity {
            TLSIdentity(certificateChainPEM: certificatePEM, privateKeyPEM: privateKeyPEM)
        }
    }

    /// The common name of ``client``.
    public static let clientCommonName = "agent-1.test"

    /// The temporary directory holding every file.
    public let directory: String
    /// The CA that signed ``server``, ``client`` and ``expiredClient``.
    public let authority: CertificateAuthority
    /// The CA certificate, PEM: the trust root for both sides.
    public let caCertificatePEM: String
    /// Where the CA certificate was written.
    public let caCertificatePath: String
    /// The other CA, which signed ``foreignClient`` only.
    public let otherCACertificatePEM: String
    /// A server certificate for `localhost` and `127.0.0.1`.
    public let server: Identity
    /// A client certificate for ``clientCommonName``.
    public let client: Identity
    /// A client certificate for ``clientCommonName`` from the other CA.
    public let foreignClient: Identity
    /// A client certificate whose validity ended a day ago.
    public let expiredClient: Identity

    /// Generates everything and writes it to a new temporary directory.
    public init() throws {
        directory = try Self.makeTemporaryDirectory()
        authority = try CertificateAuthority.generate(commonName: "Trellis CA test")
        caCertificatePEM = try authority.certificate.pemRepresentation()
        caCertificatePath = directory + "/ca.pem"
        try authority.certificate.write(to: caCertificatePath)

        let other = try CertificateAuthority.generate(commonName: "Trellis CA other")
        otherCACertificatePEM = try other.certificate.pemRepresentation()

        let now = CertificateValidity.currentTime()
        let expired = CertificateValidity(notBefore: now - 10 * 86_400, notAfter: now - 86_400)
        server = try Self.save(
            authority.issueServerCertificate(for: .localhost), as: "server", in: directory)
        client = try Self.save(
            authority.issueClientCertificate(commonName: Self.clientCommonName), as: "client", in: directory)
        foreignClient = try Self.save(
            other.issueClientCertificate(commonName: Self.clientCommonName), as: "foreign-client", in: directory)
        expiredClient = try Self.save(
            authority.issueClientCertificate(commonName: Self.clientCommonName, validity: expired),
            as: "expired-client", in: directory)
    }

    /// A server configuration presenting ``server``, requiring client certificates from
    /// the CA unless told otherwise.
    public func serverConfiguration(requireClientCertificate: Bool = true) -> TLSServerConfiguration {
        TLSServerConfiguration(
            identity: server.tlsIdentity,
            clientAuthentication: requireClientCertificate ? .required(trustRootsPEM: caCertificatePEM) : .none)
    }

    /// A client configuration trusting the CA, presenting `identity`.
    public func clientConfiguration(
        identity: Identity?,
        serverName: String = "localhost"
    ) -> TLSClientConfiguration {
        TLSClientConfiguration(
            serverName: serverName, trustRootsPEM: caCertificatePEM, identity: identity?.tlsIdentity)
    }

    /// Deletes the directory and the files in it.
    public func removeFiles() {
        for name in ["ca.pem"]
            + ["server", "client", "foreign-client", "expired-client"].flatMap({
                ["\($0).pem", "\($0)-key.pem"]
            })
        {
            unlink(directory + "/" + name)
        }
        rmdir(directory)
    }

    private static func save(_ issued: IssuedCertificate, as name: String, in directory: String) throws -> Identity {
        let identity = Identity(
            certificatePEM: try issued.certificate.pemRepresentation(),
            privateKeyPEM: try issued.privateKey.pemRepresentation(),
            certificatePath: "\(directory)/\(name).pem",
            privateKeyPath: "\(directory)/\(name)-key.pem")
        try issued.certificate.write(to: identity.certificatePath)
        try issued.privateKey.write(to: identity.privateKeyPath)
        return identity
    }

    private static func makeTemporaryDirectory() throws -> String {
        Scratch.directory("pki")
    }
}
