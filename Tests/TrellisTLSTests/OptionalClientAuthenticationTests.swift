import Testing
import TrellisTLS
import TrellisTestSupport

@Suite("Servers that ask for a client certificate without requiring one")
struct OptionalClientAuthenticationTests {
    @Test("a client without a certificate is accepted and has no peer certificate")
    func clientWithoutCertificate() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: optionalServer(pki), client: pki.clientConfiguration(identity: nil))

        let outcome = pair.handshake()
        #expect(outcome.server == .complete)
        #expect(outcome.client == .complete)
        #expect(pair.server.peerCertificate == nil)
    }

    @Test("a client presenting a certificate from the CA is accepted and seen")
    func clientWithCertificate() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: optionalServer(pki), client: pki.clientConfiguration(identity: pki.client))

        let outcome = pair.handshake()
        #expect(outcome.server == .complete)
        #expect(outcome.client == .complete)
        let peer = pair.server.peerCertificate
        let seen = try #require(peer)
        #expect(seen.commonName == TestPKI.clientCommonName)
    }

    @Test("a client presenting a certificate from another CA is refused as with required")
    func clientWithForeignCertificate() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: optionalServer(pki), client: pki.clientConfiguration(identity: pki.foreignClient))

        let outcome = pair.handshake()
        let serverError = try #require(failure(outcome.server))
        #expect(serverError.code == .verification)
        #expect(serverError.message.hasSuffix("certificate verify failed: unable to get local issuer certificate"))
    }

    @Test("an expired client certificate is refused")
    func clientWithExpiredCertificate() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: optionalServer(pki), client: pki.clientConfiguration(identity: pki.expiredClient))

        let outcome = pair.handshake()
        let serverError = try #require(failure(outcome.server))
        #expect(serverError.message.hasSuffix("certificate verify failed: certificate has expired"))
    }

    private func optionalServer(_ pki: TestPKI) -> TLSServerConfiguration {
        TLSServerConfiguration(
            identity: pki.server.tlsIdentity, clientAuthentication: .optional(trustRootsPEM: pki.caCertificatePEM))
    }
}

@Suite("Clients that skip verification of the server")
struct UnverifiedServerTests {
    @Test("a client that does not verify accepts a server from a CA it does not trust")
    func untrustedServerAccepted() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let client = TLSClientConfiguration(
            serverName: "coordinator.example.com", trustRootsPEM: pki.otherCACertificatePEM,
            verifiesServer: false)
        var pair = try ConnectedPair(server: pki.serverConfiguration(requireClientCertificate: false), client: client)

        let outcome = pair.handshake()
        #expect(outcome.client == .complete)
        #expect(outcome.server == .complete)
        let peer = pair.client.peerCertificate
        let seen = try #require(peer)
        #expect(seen.dnsNames == ["localhost"])
    }

    @Test("a client that does not verify still presents its identity")
    func identityPresented() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var client = pki.clientConfiguration(identity: pki.client, serverName: "127.0.0.2")
        client.verifiesServer = false
        var pair = try ConnectedPair(server: pki.serverConfiguration(), client: client)

        let outcome = pair.handshake()
        #expect(outcome.client == .complete)
        #expect(outcome.server == .complete)
        #expect(pair.server.peerCertificate?.commonName == TestPKI.clientCommonName)
    }

    @Test("verification stays on by default")
    func verifiesByDefault() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let client = TLSClientConfiguration(serverName: "localhost", trustRootsPEM: pki.otherCACertificatePEM)
        #expect(client.verifiesServer)
        var pair = try ConnectedPair(server: pki.serverConfiguration(requireClientCertificate: false), client: client)

        let outcome = pair.handshake()
        #expect(failure(outcome.client)?.code == .verification)
    }

    @Test("an empty server name is refused even without verification")
    func emptyServerName() throws {
        let error = #expect(throws: TLSError.self) {
            try TLSContext.client(TLSClientConfiguration(serverName: "", trustRootsPEM: nil, verifiesServer: false))
        }
        #expect(error?.code == .configuration)
    }
}
