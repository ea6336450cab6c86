import Foundation
import Testing
import TrellisTLS
import TrellisTestSupport

@Suite("Certificate and key fingerprints")
struct FingerprintTests {
    @Test("a certificate's fingerprint is the SHA-256 of its DER, as openssl computes it")
    func certificateFingerprint() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let fingerprint = try pki.authority.certificate.fingerprintSHA256
        #expect(fingerprint.count == 64)
        #expect(fingerprint == fingerprint.lowercased())
        #expect(fingerprint == (try pki.authority.certificate.info().sha256Fingerprint))

        let expected = try shell(
            "openssl x509 -outform DER | openssl dgst -sha256 -r", input: pki.caCertificatePEM)
        #expect(expected.hasPrefix(fingerprint))
    }

    @Test("a certificate's public key digest is the SHA-256 of its SubjectPublicKeyInfo")
    func publicKeyDigest() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let info = try CertificateInfo(pem: pki.client.certificatePEM)
        #expect(info.publicKeySHA256.count == 64)
        #expect(info.publicKeySHA256 != info.sha256Fingerprint)

        let expected = try shell(
            "openssl x509 -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r",
            input: pki.client.certificatePEM)
        #expect(expected.hasPrefix(info.publicKeySHA256))
        #expect(try Certificate(pem: pki.client.certificatePEM).publicKeySHA256 == info.publicKeySHA256)
    }

    @Test("a signing request exposes its name and key digest, matching the certificate signed from it")
    func signingRequestDigest() throws {
        let authority = try CertificateAuthority.generate()
        let key = try PrivateKey.generate()
        let request = try SigningRequest(pem: key.makeCertificateSigningRequest(commonName: "web-3.hosts"))
        #expect(request.commonName == "web-3.hosts")

        let certificate = try authority.sign(request, usage: .client)
        let info = try certificate.info()
        #expect(info.publicKeySHA256 == request.publicKeySHA256)
        #expect(info.commonName == "web-3.hosts")

        // Another key, another digest; the same key, the same digest.
        let other = try SigningRequest(
            pem: PrivateKey.generate().makeCertificateSigningRequest(commonName: "web-3.hosts"))
        #expect(other.publicKeySHA256 != request.publicKeySHA256)
        let again = try SigningRequest(pem: key.makeCertificateSigningRequest(commonName: "elsewhere"))
        #expect(again.publicKeySHA256 == request.publicKeySHA256)
    }

    @Test("a signing request that does not parse is refused")
    func garbageRequest() throws {
        let error = #expect(throws: TLSError.self) { try SigningRequest(pem: "nope") }
        #expect(error?.code == .certificate)
    }
}

/// Runs `command` with `/bin/sh -c`, `input` on stdin; returns standard output.
private func shell(_ command: String, input: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let stdin = Pipe()
    let stdout = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    try process.run()
    stdin.fileHandleForWriting.write(Data(input.utf8))
    try stdin.fileHandleForWriting.close()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: output, as: UTF8.self)
}
