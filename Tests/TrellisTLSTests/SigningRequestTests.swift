import Foundation
import Testing
import TrellisTLS
import TrellisTestSupport

@Suite("Certificate signing requests")
struct SigningRequestTests {
    @Test("a request signed by the CA yields a clientAuth certificate for the key and name")
    func roundTrip() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let key = try PrivateKey.generate()
        let request = try key.makeCertificateSigningRequest(commonName: "agent-42.hosts")
        #expect(request.hasPrefix("-----BEGIN CERTIFICATE REQUEST-----"))
        let checked = try OpenSSLCommand.run(["req", "-noout", "-verify", "-subject"], input: request)
        #expect(checked.output.contains("agent-42.hosts"), "\(checked.output)")

        let certificate = try pki.authority.sign(csrPEM: request, usage: .client)
        let info = try certificate.info()
        #expect(info.subject == "CN=agent-42.hosts")
        #expect(info.dnsNames == ["agent-42.hosts"])
        #expect(info.extendedKeyUsage == .clientAuth)
        #expect(info.keyUsage == .digitalSignature)
        #expect(!info.isCA)
        #expect(info.notAfter - info.notBefore == 90 * 86_400)

        // The certificate is for the requester's key: the pair works as a client identity.
        let identity = TLSIdentity(
            certificateChainPEM: try certificate.pemRepresentation(), privateKeyPEM: try key.pemRepresentation())
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(),
            client: TLSClientConfiguration(
                serverName: "localhost", trustRootsPEM: pki.caCertificatePEM, identity: identity))
        let outcome = pair.handshake()
        #expect(outcome.server == .complete)
        let seen = pair.server.peerCertificate
        #expect(seen?.commonName == "agent-42.hosts")
    }

    @Test("a request whose signature does not verify is refused")
    func tamperedSignature() throws {
        let authority = try CertificateAuthority.generate()
        let request = try PrivateKey.generate().makeCertificateSigningRequest(commonName: "agent-1")
        let tampered = try flipLastByte(ofPEM: request, label: "CERTIFICATE REQUEST")

        let error = #expect(throws: TLSError.self) {
            try authority.sign(csrPEM: tampered, usage: .client)
        }
        #expect(error?.code == .certificate)
        #expect(
            error?.message == "tls: checking a signing request failed: its signature does not verify (X509_REQ_verify)")
    }

    @Test("a request whose common name is not a DNS name is refused")
    func badCommonName() throws {
        let authority = try CertificateAuthority.generate()
        let request = try PrivateKey.generate().makeCertificateSigningRequest(commonName: "agent one")
        let error = #expect(throws: TLSError.self) {
            try authority.sign(csrPEM: request, usage: .client)
        }
        #expect(error?.message.contains("\"agent one\" is not a valid DNS name") == true)
    }

    @Test("garbage instead of a request is refused with the OpenSSL reason")
    func garbageRequest() throws {
        let authority = try CertificateAuthority.generate()
        let error = #expect(throws: TLSError.self) {
            try authority.sign(csrPEM: "hello", usage: .client)
        }
        #expect(error?.message == "tls: parsing signing request PEM failed: no start line (PEM_read_bio_X509_REQ)")
    }
}

/// Re-encodes a PEM block with the last byte of its DER (inside the signature) flipped.
private func flipLastByte(ofPEM pem: String, label: String) throws -> String {
    let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
    var der = try #require(Data(base64Encoded: body))
    der[der.count - 1] ^= 0x01
    let lines = der.base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
    return "-----BEGIN \(label)-----\n\(lines)\n-----END \(label)-----\n"
}
