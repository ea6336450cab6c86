import Glibc
import Testing
import TrellisTLS
import TrellisTestSupport

@Suite("Handshakes that must be refused")
struct RejectionTests {
    @Test("a client without a certificate is refused when the server requires one")
    func missingClientCertificate() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(), client: pki.clientConfiguration(identity: nil))

        let outcome = pair.handshake()
        let serverError = try #require(failure(outcome.server))
        #expect(serverError.code == .handshake)
        #expect(
            serverError.message.hasPrefix(
                "tls: handshake with \(pair.sockets.clientAddress) failed: certificate required"))

        // In TLS 1.3 the client may finish its side first; the refusal then reaches it on
        // its first read, as an alert or as a reset.
        if outcome.client == .complete {
            var buffer = [UInt8](repeating: 0, count: 64)
            var result = TLSReadResult.wantRead
            while result == .wantRead {
                waitUntilReady(pair.sockets.client, for: .wantRead)
                result = buffer.withUnsafeMutableBytes { pair.client.read(into: $0) }
            }
            let clientError = try #require(failure(result))
            #expect(clientError.message.contains("certificate required") || clientError.systemErrno == ECONNRESET)
        } else {
            #expect(failure(outcome.client) != nil)
        }
    }

    @Test("a client certificate from another CA is refused with the verification reason")
    func foreignClientCertificate() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(), client: pki.clientConfiguration(identity: pki.foreignClient))

        let outcome = pair.handshake()
        let serverError = try #require(failure(outcome.server))
        #expect(serverError.code == .verification)
        #expect(
            serverError.message
                == "tls: handshake with \(pair.sockets.clientAddress) failed: certificate verify failed: unable to get local issuer certificate"
        )
        #expect(outcome.client != .complete || failure(readOnce(&pair)) != nil)
    }

    @Test("an expired client certificate is refused, naming the expiry")
    func expiredClientCertificate() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(), client: pki.clientConfiguration(identity: pki.expiredClient))

        let outcome = pair.handshake()
        let serverError = try #require(failure(outcome.server))
        #expect(serverError.code == .verification)
        #expect(serverError.message.hasSuffix("failed: certificate verify failed: certificate has expired"))
    }

    @Test("the client refuses a server whose certificate does not carry the name it dialled")
    func hostnameMismatch() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(),
            client: pki.clientConfiguration(identity: pki.client, serverName: "coordinator.example.com"))

        let outcome = pair.handshake()
        let clientError = try #require(failure(outcome.client))
        #expect(clientError.code == .verification)
        #expect(
            clientError.message
                == "tls: handshake with \(pair.sockets.serverAddress) failed: certificate verify failed: hostname mismatch"
        )
        #expect(failure(outcome.server) != nil)
    }

    @Test("the client refuses a server whose certificate does not carry the address it dialled")
    func addressMismatch() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(),
            client: pki.clientConfiguration(identity: pki.client, serverName: "127.0.0.2"))

        let outcome = pair.handshake()
        let clientError = try #require(failure(outcome.client))
        #expect(clientError.message.hasSuffix("certificate verify failed: IP address mismatch"))
    }

    @Test("the client refuses a server signed by a CA it does not trust")
    func untrustedServer() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var client = pki.clientConfiguration(identity: pki.client)
        client.trustRootsPEM = pki.otherCACertificatePEM
        var pair = try ConnectedPair(server: pki.serverConfiguration(), client: client)

        let outcome = pair.handshake()
        let clientError = try #require(failure(outcome.client))
        #expect(clientError.code == .verification)
        #expect(clientError.message.contains("unable to get local issuer certificate"))
    }

    @Test("a client offering only other ALPN protocols is refused")
    func alpnMismatch() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var client = pki.clientConfiguration(identity: pki.client)
        client.applicationProtocols = ["h2", "http/1.1"]
        var pair = try ConnectedPair(server: pki.serverConfiguration(), client: client)

        let outcome = pair.handshake()
        let serverError = try #require(failure(outcome.server))
        #expect(serverError.message.contains("no application protocol"))
        let clientError = try #require(failure(outcome.client))
        #expect(clientError.message.contains("no application protocol"))
    }
}

/// Reads until something other than `.wantRead` happens on the client.
private func readOnce(_ pair: inout ConnectedPair) -> TLSReadResult {
    var buffer = [UInt8](repeating: 0, count: 64)
    var result = TLSReadResult.wantRead
    while result == .wantRead {
        guard waitUntilReady(pair.sockets.client, for: .wantRead) else { return result }
        result = buffer.withUnsafeMutableBytes { pair.client.read(into: $0) }
    }
    return result
}
