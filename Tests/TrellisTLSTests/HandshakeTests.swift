import Testing
import TrellisTLS
import TrellisTestSupport

@Suite("Handshakes between Trellis contexts")
struct HandshakeTests {
    @Test("mutual TLS completes with TLS 1.3, ALPN and each side seeing the other's identity")
    func mutualTLS() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(), client: pki.clientConfiguration(identity: pki.client))

        let outcome = pair.handshake()
        #expect(outcome.server == .complete)
        #expect(outcome.client == .complete)

        #expect(pair.server.protocolVersion == "TLSv1.3")
        #expect(pair.client.protocolVersion == "TLSv1.3")
        #expect(pair.server.negotiatedALPN == "trellis/1")
        #expect(pair.client.negotiatedALPN == "trellis/1")
        #expect(pair.client.cipher.hasPrefix("TLS_"))

        let issuedClient = try CertificateInfo(pem: pki.client.certificatePEM)
        let serverView = pair.server.peerCertificate
        let clientSeen = try #require(serverView)
        #expect(clientSeen.commonName == TestPKI.clientCommonName)
        #expect(clientSeen.dnsNames == [TestPKI.clientCommonName])
        #expect(clientSeen.extendedKeyUsage == .clientAuth)
        #expect(clientSeen.sha256Fingerprint == issuedClient.sha256Fingerprint)
        #expect(clientSeen.sha256Fingerprint.count == 64)

        let clientView = pair.client.peerCertificate
        let serverSeen = try #require(clientView)
        #expect(serverSeen.dnsNames == ["localhost"])
        #expect(serverSeen.ipAddresses == ["127.0.0.1"])
        #expect(serverSeen.notAfter > serverSeen.notBefore)
    }

    @Test("a server that does not ask for certificates accepts a client without one")
    func serverWithoutClientAuthentication() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(requireClientCertificate: false),
            client: pki.clientConfiguration(identity: nil))

        let outcome = pair.handshake()
        #expect(outcome.server == .complete)
        #expect(outcome.client == .complete)
        #expect(pair.server.peerCertificate == nil)
    }

    @Test("the server's IP address verifies as a server name", arguments: ["127.0.0.1", "localhost"])
    func serverNameMatches(serverName: String) throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(),
            client: pki.clientConfiguration(identity: pki.client, serverName: serverName))

        let outcome = pair.handshake()
        #expect(outcome.client == .complete)
        #expect(outcome.server == .complete)
    }

    @Test("a client offering no ALPN is accepted and negotiates none")
    func clientWithoutALPN() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var client = pki.clientConfiguration(identity: pki.client)
        client.applicationProtocols = []
        var pair = try ConnectedPair(server: pki.serverConfiguration(), client: client)

        let outcome = pair.handshake()
        #expect(outcome.server == .complete)
        #expect(outcome.client == .complete)
        #expect(pair.server.negotiatedALPN == nil)
    }
}
