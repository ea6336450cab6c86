import COpenSSL
import Testing
import TrellisTLS
import TrellisTestSupport

@Suite("Session resumption with tickets")
struct ResumptionTests {
    /// A handshake between the contexts, then one byte from the server so that the client
    /// reads the ticket sent after the handshake. Returns whether each side resumed.
    private func connect(
        _ server: TLSContext, _ client: TLSContext, peer: (PeerCertificate?) -> Void = { _ in }
    ) throws -> (server: Bool, client: Bool) {
        var pair = try ConnectedPair(serverContext: server, clientContext: client)
        let outcome = pair.handshake()
        try #require(outcome.server == .complete && outcome.client == .complete, "\(outcome)")
        let exchanged = pair.exchangeByte()
        try #require(exchanged, "the server's byte did not arrive")
        peer(pair.server.peerCertificate)
        return (pair.server.resumedSession, pair.client.resumedSession)
    }

    @Test("a client resumes on its next connection, also to a restarted server with the same key, as the same peer")
    func resumesAcrossRestart() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var configuration = pki.serverConfiguration()
        configuration.sessionTicketKey = try SessionTicketKey.generate()
        let client = try TLSContext.client(pki.clientConfiguration(identity: pki.client))

        let server = try TLSContext.server(configuration)
        #expect(try connect(server, client) == (false, false))
        var seen: PeerCertificate?
        #expect(try connect(server, client) { seen = $0 } == (true, true))
        #expect(seen?.commonName == TestPKI.clientCommonName)
        #expect(seen?.publicKeySHA256 == (try CertificateInfo(pem: pki.client.certificatePEM)).publicKeySHA256)

        let restarted = try TLSContext.server(configuration)
        #expect(try connect(restarted, client) == (true, true))
    }

    @Test("a ticket from another key, or a server without one, means a full handshake that still succeeds")
    func otherKeyFallsBack() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var configuration = pki.serverConfiguration()
        configuration.sessionTicketKey = try SessionTicketKey.generate()
        let client = try TLSContext.client(pki.clientConfiguration(identity: pki.client))
        #expect(try connect(TLSContext.server(configuration), client) == (false, false))

        var rekeyed = configuration
        rekeyed.sessionTicketKey = try SessionTicketKey.generate()
        #expect(try connect(TLSContext.server(rekeyed), client) == (false, false))

        let withoutTickets = try TLSContext.server(pki.serverConfiguration())
        #expect(try connect(withoutTickets, client) == (false, false))
        #expect(try connect(withoutTickets, client) == (false, false))
    }

    @Test("a client that does not resume offers nothing")
    func clientOptOut() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var configuration = pki.serverConfiguration()
        configuration.sessionTicketKey = try SessionTicketKey.generate()
        let server = try TLSContext.server(configuration)
        var clientConfiguration = pki.clientConfiguration(identity: pki.client)
        clientConfiguration.resumesSessions = false
        let client = try TLSContext.client(clientConfiguration)
        #expect(try connect(server, client) == (false, false))
        #expect(try connect(server, client) == (false, false))
    }

    @Test("TLS 1.2 sessions are never resumed")
    func tls12NotResumed() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var configuration = pki.serverConfiguration(requireClientCertificate: false)
        configuration.sessionTicketKey = try SessionTicketKey.generate()
        let server = try TLSContext.server(configuration)

        var session: OpaquePointer? = nil
        defer { if let session { SSL_SESSION_free(session) } }
        for attempt in 0..<2 {
            let sockets = try LoopbackSockets()
            var connection = try TLSConnection(
                context: server, fileDescriptor: sockets.server, role: .server, peerDescription: sockets.clientAddress)
            var client = try RawOpenSSLClient(
                fileDescriptor: sockets.client, version: TLS1_2_VERSION, cipherList: "ECDHE-ECDSA-AES128-GCM-SHA256",
                resuming: session)
            let (serverResult, clientStep) = handshake(&connection, &client, over: sockets)
            #expect(serverResult == .complete, "attempt \(attempt)")
            #expect(clientStep == .done, "attempt \(attempt)")
            #expect(connection.protocolVersion == "TLSv1.2")
            let serverResumed = connection.resumedSession
            let clientResumed = client.resumedSession
            #expect(!serverResumed, "attempt \(attempt)")
            #expect(!clientResumed, "attempt \(attempt)")
            if session == nil { session = client.session() }
        }
        #expect(session != nil)
    }

    @Test("a stored key must have 80 bytes")
    func keyLength() throws {
        #expect(throws: TLSError.self) { try SessionTicketKey(bytes: [UInt8](repeating: 1, count: 79)) }
        let key = try SessionTicketKey.generate()
        #expect(key.bytes.count == 80)
        #expect(try SessionTicketKey(bytes: key.bytes) == key)
        #expect(try SessionTicketKey.generate() != key)
        #expect(try SessionTicketKey(hex: key.hexRepresentation) == key)
        #expect(try SessionTicketKey(hex: key.hexRepresentation.uppercased()) == key)
        #expect(throws: TLSError.self) { try SessionTicketKey(hex: String(key.hexRepresentation.dropLast())) }
        #expect(throws: TLSError.self) { try SessionTicketKey(hex: "zz" + key.hexRepresentation.dropFirst(2)) }
    }
}
