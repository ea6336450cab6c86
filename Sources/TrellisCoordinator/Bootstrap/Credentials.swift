import Glibc
import TrellisLogging
import TrellisTLS

/// What the coordinator's listeners need to prove who they are and whom to trust.
public struct Credentials: Sendable {
    /// The certificate chain and key both listeners present.
    public var serverIdentity: TLSIdentity
    /// The CA that agents' client certificates must chain to.
    public var clientCAPEM: String
    /// The bearer token with full rights.
    public var adminToken: String
    /// The CA (with its key) that signs joining agents' certificates; nil when the
    /// operator gave no key, and then agents cannot join through this coordinator.
    public var authority: CertificateAuthority?
    /// The key the agent listener encrypts TLS session tickets with, so that agents
    /// resume their sessions after a restart instead of doing full handshakes.
    public var sessionTicketKey: SessionTicketKey?

    /// Files the dev mode keeps in the data directory.
    public enum FileName {
        public static let caCertificate = "ca.pem"
        public static let caKey = "ca.key"
        public static let serverCertificate = "server.pem"
        public static let serverKey = "server.key"
        public static let adminToken = "admin.token"
        /// The in-process agent's key and certificate: kept, because the coordinator
        /// binds an agent's name to its key.
        public static let localAgentKey = "local-agent.key"
        public static let localAgentCertificate = "local-agent.pem"
        /// The agent listener's session ticket key, in hex; replaced once a day.
        public static let sessionTicketKey = "agent-tickets.key"
    }

    /// How long a session ticket key is used before a restart replaces it: tickets made
    /// with the key it replaces are refused, and those agents do a full handshake.
    static let sessionTicketKeyLifetimeSeconds: Int64 = 24 * 3600

    /// Dev mode: the identity of the in-process agent `name`, made on first start and
    /// reused after, so that its name stays bound to one key. A certificate within 30 days
    /// of expiry, or not issued by the CA, is replaced (with the same key).
    static func localAgentIdentity(
        name: String, authority: CertificateAuthority, in directory: DataDirectory, logger: Logger
    ) throws -> TLSIdentity {
        let renewalMargin: Int64 = 30 * 24 * 3600
        let key: PrivateKey
        if directory.exists(FileName.localAgentKey) {
            key = try PrivateKey(pem: directory.read(FileName.localAgentKey))
            if directory.exists(FileName.localAgentCertificate) {
                let certificatePEM = try directory.read(FileName.localAgentCertificate)
                let info = try Certificate(pem: certificatePEM).info()
                let keyPEM = try key.pemRepresentation()
                if info.issuer == (try authority.certificate.info()).subject, info.commonName == name,
                    info.notAfter - CertificateValidity.currentTime() > renewalMargin
                {
                    return TLSIdentity(certificateChainPEM: certificatePEM, privateKeyPEM: keyPEM)
                }
            }
        } else {
            key = try PrivateKey.generate()
            try key.write(to: directory.file(FileName.localAgentKey))
        }
        let request = try SigningRequest(pem: key.makeCertificateSigningRequest(commonName: name))
        let certificate = try authority.sign(request, usage: .client)
        try certificate.write(to: directory.file(FileName.localAgentCertificate))
        logger.info("issued the local agent's certificate", ["file": directory.file(FileName.localAgentCertificate)])
        return TLSIdentity(
            certificateChainPEM: try certificate.pemRepresentation(), privateKeyPEM: try key.pemRepresentation())
    }

    /// Dev mode: a CA and a server certificate for localhost and 127.0.0.1 in the data
    /// directory, made on first start and reused after. A server certificate within 30
    /// days of expiry, or not issued by the CA, is replaced.
    public static func development(in directory: DataDirectory, logger: Logger) throws(CoordinatorError) -> Credentials
    {
        do {
            let authority = try loadOrCreateAuthority(in: directory, logger: logger)
            let identity = try loadOrIssueServerCertificate(authority, in: directory, logger: logger)
            let caPEM = try authority.certificate.pemRepresentation()
            let token = try loadOrCreateAdminToken(in: directory, logger: logger)
            return Credentials(
                serverIdentity: identity, clientCAPEM: caPEM, adminToken: token, authority: authority,
                sessionTicketKey: try loadOrCreateSessionTicketKey(in: directory, logger: logger))
        } catch let error as CoordinatorError {
            throw error
        } catch {
            throw CoordinatorError(
                .tls, "coordinator: preparing dev credentials in \(directory.path) failed", cause: error)
        }
    }

    /// Production mode: certificate, key and client CA from files the operator provides;
    /// the admin token still lives in the data directory.
    public static func provided(
        certificatePath: String,
        keyPath: String,
        clientCAPath: String,
        clientCAKeyPath: String? = nil,
        directory: DataDirectory,
        logger: Logger
    ) throws(CoordinatorError) -> Credentials {
        let certificate = try readFile(certificatePath, what: "--tls-cert")
        let key = try readFile(keyPath, what: "--tls-key")
        let clientCA = try readFile(clientCAPath, what: "--client-ca")
        var authority: CertificateAuthority?
        if let clientCAKeyPath {
            let caKey = try readFile(clientCAKeyPath, what: "--client-ca-key")
            do {
                authority = try CertificateAuthority(certificatePEM: clientCA, privateKeyPEM: caKey)
            } catch {
                throw CoordinatorError(
                    .tls, "coordinator: --client-ca-key \(clientCAKeyPath) is not the key of --client-ca",
                    cause: error)
            }
        }
        let token = try loadOrCreateAdminToken(in: directory, logger: logger)
        return Credentials(
            serverIdentity: TLSIdentity(certificateChainPEM: certificate, privateKeyPEM: key),
            clientCAPEM: clientCA,
            adminToken: token,
            authority: authority,
            sessionTicketKey: try loadOrCreateSessionTicketKey(in: directory, logger: logger))
    }

    /// The session ticket key in the data directory, made when missing, unreadable or older
    /// than a day.
    static func loadOrCreateSessionTicketKey(
        in directory: DataDirectory, logger: Logger, now: Int64 = Int64(time(nil))
    ) throws(CoordinatorError) -> SessionTicketKey {
        let name = FileName.sessionTicketKey
        if let written = directory.modificationTime(name), now - written < sessionTicketKeyLifetimeSeconds,
            let key = try? SessionTicketKey(hex: directory.read(name).filter { !$0.isWhitespace })
        {
            return key
        }
        let replacing = directory.exists(name)
        let key: SessionTicketKey
        do {
            key = try SessionTicketKey.generate()
        } catch {
            throw CoordinatorError(.tls, "coordinator: making a session ticket key failed", cause: error)
        }
        try directory.write(name, key.hexRepresentation + "\n", mode: 0o600)
        logger.info(
            replacing ? "replaced session ticket key" : "created session ticket key", ["file": directory.file(name)])
        return key
    }

    private static func loadOrCreateAuthority(
        in directory: DataDirectory, logger: Logger
    ) throws -> CertificateAuthority {
        if directory.exists(FileName.caCertificate) && directory.exists(FileName.caKey) {
            return try CertificateAuthority(
                certificatePEM: directory.read(FileName.caCertificate),
                privateKeyPEM: directory.read(FileName.caKey))
        }
        let authority = try CertificateAuthority.generate(commonName: "Trellis dev CA")
        // The key goes first: a CA certificate without its key could never sign.
        try authority.privateKey.write(to: directory.file(FileName.caKey))
        try authority.certificate.write(to: directory.file(FileName.caCertificate))
        logger.info("created certificate authority", ["file": directory.file(FileName.caCertificate)])
        return authority
    }

    private static func loadOrIssueServerCertificate(
        _ authority: CertificateAuthority, in directory: DataDirectory, logger: Logger
    ) throws -> TLSIdentity {
        let renewalMargin: Int64 = 30 * 24 * 3600
        if directory.exists(FileName.serverCertificate) && directory.exists(FileName.serverKey) {
            let certificatePEM = try directory.read(FileName.serverCertificate)
            let keyPEM = try directory.read(FileName.serverKey)
            let info = try Certificate(pem: certificatePEM).info()
            let authorityInfo = try authority.certificate.info()
            let now = CertificateValidity.currentTime()
            if info.issuer == authorityInfo.subject && info.notAfter - now > renewalMargin
                && info.dnsNames.contains("localhost") && info.ipAddresses.contains("127.0.0.1")
            {
                return TLSIdentity(certificateChainPEM: certificatePEM, privateKeyPEM: keyPEM)
            }
            logger.info("renewing server certificate", ["not_after": "\(info.notAfter)"])
        }
        let issued = try authority.issueServerCertificate(for: .localhost)
        try issued.privateKey.write(to: directory.file(FileName.serverKey))
        try issued.certificate.write(to: directory.file(FileName.serverCertificate))
        let keyPEM = try issued.privateKey.pemRepresentation()
        let certificatePEM = try issued.certificate.pemRepresentation()
        return TLSIdentity(certificateChainPEM: certificatePEM, privateKeyPEM: keyPEM)
    }

    private static func loadOrCreateAdminToken(
        in directory: DataDirectory, logger: Logger
    ) throws(CoordinatorError) -> String {
        if directory.exists(FileName.adminToken) {
            let token = try directory.read(FileName.adminToken).filter { !$0.isWhitespace }
            guard token.count >= 32 else {
                throw CoordinatorError(
                    .configuration, "coordinator: \(directory.file(FileName.adminToken)) holds no usable token")
            }
            return token
        }
        var generator = SystemRandomNumberGenerator()
        var token = "trl_"
        for _ in 0..<4 {
            let word = generator.next() as UInt64
            let hex = String(word, radix: 16)
            token += String(repeating: "0", count: 16 - hex.count) + hex
        }
        try directory.write(FileName.adminToken, token + "\n", mode: 0o600)
        logger.info("created admin token", ["file": directory.file(FileName.adminToken)])
        return token
    }

    private static func readFile(_ path: String, what: String) throws(CoordinatorError) -> String {
        let slash = path.lastIndex(of: "/")
        let directoryPath = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard access(path, R_OK) == 0 else {
            throw CoordinatorError(.configuration, "coordinator: \(what) \(path) cannot be read")
        }
        return try DataDirectory(existing: directoryPath).read(name)
    }
}

extension DataDirectory {
    /// A directory that must already exist; nothing is created.
    init(existing path: String) {
        self.init(unchecked: path)
    }
}
