import COpenSSL
import Testing
import TrellisTLS
import TrellisTestSupport

@Suite("Protocol versions and ciphers outside the policy")
struct ProtocolPolicyTests {
    @Test("a TLS 1.1 client is refused")
    func tls11Refused() throws {
        let outcome = try exchange(version: TLS1_1_VERSION, cipherList: "ECDHE-ECDSA-AES128-SHA")
        #expect(outcome.client == .failed)
        #expect(outcome.serverError?.code == .handshake)
        #expect(outcome.serverError?.message.contains("unsupported protocol") == true)
    }

    @Test(
        "a TLS 1.2 client offering only CBC ciphers is refused",
        arguments: [
            "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA", "AES128-GCM-SHA256",
        ])
    func nonAEADCipherRefused(cipher: String) throws {
        let outcome = try exchange(version: TLS1_2_VERSION, cipherList: cipher)
        #expect(outcome.client == .failed)
        #expect(outcome.serverError?.message.contains("no shared cipher") == true)
    }

    @Test("a TLS 1.2 client offering an ECDHE AEAD cipher is accepted")
    func tls12AEADAccepted() throws {
        let outcome = try exchange(version: TLS1_2_VERSION, cipherList: "ECDHE-ECDSA-CHACHA20-POLY1305")
        #expect(outcome.client == .done)
        #expect(outcome.serverError == nil)
        #expect(outcome.serverVersion == "TLSv1.2")
        #expect(outcome.serverCipher == "ECDHE-ECDSA-CHACHA20-POLY1305")
    }

    private struct Outcome {
        var client: Step
        var serverError: TLSError?
        var serverVersion: String
        var serverCipher: String
    }

    /// Handshakes a raw OpenSSL client limited to `version` and `cipherList` with a
    /// Trellis server that does not ask for client certificates.
    private func exchange(version: Int32, cipherList: String) throws -> Outcome {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let sockets = try LoopbackSockets()
        var server = try TLSConnection(
            context: TLSContext.server(pki.serverConfiguration(requireClientCertificate: false)),
            fileDescriptor: sockets.server, role: .server, peerDescription: sockets.clientAddress)
        var client = try RawOpenSSLClient(fileDescriptor: sockets.client, version: version, cipherList: cipherList)

        let (serverResult, clientStep) = handshake(&server, &client, over: sockets)
        return Outcome(
            client: clientStep, serverError: failure(serverResult),
            serverVersion: server.protocolVersion, serverCipher: server.cipher)
    }
}
