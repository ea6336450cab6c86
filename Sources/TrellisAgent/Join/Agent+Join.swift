import TrellisAPI
import TrellisDomain
import TrellisLogging
import TrellisRPC
import TrellisTLS
import TrellisWire

extension Agent {
    /// Joins the coordinator once: exchanges a join token and a fresh key's signing
    /// request for a client certificate, and stores everything in the data directory.
    ///
    /// 1. The CA: `trustedCAPEM` if given, else `ca.pem` in the data directory, else
    ///    asked of the coordinator with `AgentService/Discover` over a connection whose
    ///    server is not verified. In every case its fingerprint must equal the token's,
    ///    or nothing is sent and nothing is written.
    /// 2. A new P-256 key and a signing request with `name` as its common name.
    /// 3. `AgentService/Join` over a connection verifying the server against the CA.
    /// 4. `agent.key` (0600), `agent.pem`, `ca.pem`, then `agent.json` with the name and
    ///    the labels the coordinator returned.
    ///
    /// - Returns: what was stored.
    /// - Throws: ``AgentError``: `.fingerprintMismatch`; `.joinRefused` with the
    ///   coordinator's message for a used, expired or unknown token or a taken name;
    ///   `.joinFailed` when the coordinator cannot be reached or answers wrongly;
    ///   `.dataDirectory` when the files cannot be written.
    public static func join(
        coordinator: SocketAddress,
        serverName: String,
        token: JoinToken,
        name: String,
        labels: [String: String],
        trustedCAPEM: String? = nil,
        dataDirectory: AgentDataDirectory,
        timeout: Duration = .seconds(30),
        logger: Logger = Logger(label: "agent")
    ) async throws(AgentError) -> AgentDataDirectory.Joined {
        guard AgentName.isValid(name) else {
            throw AgentError(
                .configuration, "agent name \"\(name)\" is not valid: use [a-z0-9][a-z0-9.-]{0,62}")
        }
        try dataDirectory.prepare()

        let caPEM: String
        if let trusted = trustedCAPEM {
            caPEM = trusted
        } else if let stored = try dataDirectory.storedCA() {
            caPEM = stored
        } else {
            caPEM = try await discoverCA(coordinator: coordinator, serverName: serverName, timeout: timeout)
        }
        let ca = try checkFingerprint(caPEM, against: token)
        logger.info(
            "joining the coordinator",
            ["coordinator.address": coordinator.description, "agent.name": name, "token.id": token.id])

        let key: PrivateKey
        let requestPEM: String
        let request: SigningRequest
        do {
            key = try PrivateKey.generate()
            requestPEM = try key.makeCertificateSigningRequest(commonName: name)
            request = try SigningRequest(pem: requestPEM)
        } catch {
            throw AgentError(.joinFailed, "making the agent's key and signing request failed: \(error.message)")
        }

        let response = try await withClient(
            coordinator: coordinator,
            tls: TLSClientConfiguration(serverName: serverName, trustRootsPEM: caPEM)
        ) { client throws(AgentError) in
            do {
                return try await client.unary(
                    TrellisV1.AgentService.join,
                    TrellisV1.JoinRequest(token: token.text, name: name, csrPem: requestPEM, labels: labels),
                    options: CallOptions(timeout: timeout))
            } catch let error as RPCError {
                switch error.code {
                case .permissionDenied, .alreadyExists, .invalidArgument, .unauthenticated:
                    throw AgentError(.joinRefused, "join refused: \(error.message)")
                default:
                    throw AgentError(
                        .joinFailed, "joining the coordinator at \(coordinator) failed: \(error.message)")
                }
            } catch {
                throw AgentError(.joinFailed, "joining the coordinator at \(coordinator) failed: \(error)")
            }
        }

        let certificate: Certificate
        do {
            certificate = try Certificate(pem: response.certificatePem)
            let info = try certificate.info()
            guard info.commonName == name, info.publicKeySHA256 == request.publicKeySHA256 else {
                throw AgentError(
                    .joinFailed,
                    "the coordinator returned a certificate for \(info.commonName ?? "no name") or another key, not for \(name)"
                )
            }
        } catch let error as AgentError {
            throw error
        } catch {
            throw AgentError(.joinFailed, "the coordinator's certificate does not parse: \(error)")
        }
        var storedCA = ca
        if !response.caPem.isEmpty {
            storedCA = try checkFingerprint(response.caPem, against: token)
        }
        try dataDirectory.saveJoined(
            key: key, certificate: certificate, ca: storedCA, name: name, labels: response.labels)
        logger.info("joined the coordinator", ["agent.name": name, "data.directory": dataDirectory.path])

        return AgentDataDirectory.Joined(
            name: name, labels: response.labels,
            identity: TLSIdentity(
                certificateChainPEM: response.certificatePem, privateKeyPEM: try pem(of: key)),
            caPEM: try pem(of: storedCA))
    }

    /// Asks the coordinator for its CA over a connection that does not verify the server:
    /// the caller checks the answer against the join token's fingerprint.
    static func discoverCA(
        coordinator: SocketAddress, serverName: String, timeout: Duration
    ) async throws(AgentError) -> String {
        let tls = TLSClientConfiguration(serverName: serverName, trustRootsPEM: nil, verifiesServer: false)
        return try await withClient(coordinator: coordinator, tls: tls) { client throws(AgentError) in
            do {
                let response = try await client.unary(
                    TrellisV1.AgentService.discover, TrellisV1.DiscoverRequest(),
                    options: CallOptions(timeout: timeout))
                return response.caPem
            } catch let error as RPCError {
                throw AgentError(
                    .joinFailed, "asking the coordinator at \(coordinator) for its CA failed: \(error.message)")
            } catch {
                throw AgentError(.joinFailed, "asking the coordinator at \(coordinator) for its CA failed: \(error)")
            }
        }
    }

    /// The CA in `pem`, if its fingerprint is the token's.
    static func checkFingerprint(_ pem: String, against token: JoinToken) throws(AgentError) -> Certificate {
        let ca: Certificate
        let fingerprint: String
        do {
            ca = try Certificate(pem: pem)
            fingerprint = try ca.fingerprintSHA256
        } catch {
            throw AgentError(.fingerprintMismatch, "the coordinator's CA certificate does not parse: \(error.message)")
        }
        guard fingerprint == token.caFingerprint else {
            throw AgentError(
                .fingerprintMismatch,
                "the coordinator's CA has fingerprint \(fingerprint), not \(token.caFingerprint) as the join token says; refusing to join"
            )
        }
        return ca
    }

    private static func pem(of key: PrivateKey) throws(AgentError) -> String {
        do { return try key.pemRepresentation() } catch {
            throw AgentError(.joinFailed, "encoding the agent's key failed: \(error.message)")
        }
    }

    private static func pem(of certificate: Certificate) throws(AgentError) -> String {
        do { return try certificate.pemRepresentation() } catch {
            throw AgentError(.joinFailed, "encoding the CA certificate failed: \(error.message)")
        }
    }

    /// Runs `body` with a client of its own, closed afterwards.
    private static func withClient<R: Sendable>(
        coordinator: SocketAddress,
        tls: TLSClientConfiguration,
        _ body: (RPCClient) async throws(AgentError) -> R
    ) async throws(AgentError) -> R {
        let client: RPCClient
        do {
            client = try RPCClient(
                configuration: RPCClient.Configuration(address: coordinator, tls: tls, connectTimeout: .seconds(10)),
                logger: Logger(label: "agent.join", sink: DiscardingLogSink()))
        } catch {
            throw AgentError(.configuration, "setting up TLS for the coordinator failed: \(error)")
        }
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch {
            await client.close()
            throw error
        }
    }
}
