import Glibc
import Testing
import TrellisTLS
import TrellisTestSupport

@Suite("PEM input and key files")
struct PEMAndFileTests {
    @Test("a key file is created with mode 0600 and reads back as the same key")
    func keyFileMode() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let path = pki.directory + "/fresh-key.pem"
        defer { unlink(path) }
        let key = try PrivateKey.generate()
        try key.write(to: path)

        var status = stat()
        #expect(stat(path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
        let reread = try PrivateKey(pem: String(decoding: try readFile(path), as: UTF8.self))
        #expect(try reread.pemRepresentation() == key.pemRepresentation())
    }

    @Test("writing a key over a world-readable file leaves a 0600 file")
    func keyReplacesWiderFile() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let path = pki.directory + "/replaced.pem"
        defer { unlink(path) }
        try pki.authority.certificate.write(to: path)
        try PrivateKey.generate().write(to: path)

        var status = stat()
        #expect(stat(path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o600)
    }

    @Test("the TestPKI key files are 0600")
    func fixtureKeyFiles() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        for path in [pki.server.privateKeyPath, pki.client.privateKeyPath, pki.expiredClient.privateKeyPath] {
            var status = stat()
            #expect(stat(path, &status) == 0)
            #expect(status.st_mode & 0o777 == 0o600)
        }
    }

    @Test("writing into a missing directory names the path and errno")
    func missingDirectory() throws {
        let error = #expect(throws: TLSError.self) {
            try PrivateKey.generate().write(to: "/nonexistent-trellis-dir/key.pem")
        }
        #expect(error?.code == .file)
        #expect(error?.systemErrno == ENOENT)
        #expect(
            error?.message.hasPrefix(
                "tls: writing the private key to /nonexistent-trellis-dir/key.pem failed: open: No such file or directory"
            ) == true)
    }

    @Test(
        "garbage instead of a certificate is a clear error",
        arguments: [
            "not a certificate",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "",
        ])
    func garbageCertificate(pem: String) throws {
        let error = #expect(throws: TLSError.self) { try CertificateInfo(pem: pem) }
        #expect(error?.code == .certificate)
        #expect(error?.message.hasPrefix("tls: parsing certificate PEM failed: ") == true)
        #expect(error?.openSSLReasons.isEmpty == false)
    }

    @Test("a truncated certificate is refused rather than half read")
    func truncatedCertificate() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let truncated = String(pki.server.certificatePEM.prefix(200))
        #expect(throws: TLSError.self) { try Certificate(pem: truncated) }
    }

    @Test("garbage instead of a key is a clear error")
    func garbageKey() throws {
        let error = #expect(throws: TLSError.self) {
            try PrivateKey(pem: "-----BEGIN PRIVATE KEY-----\nZm9v\n-----END PRIVATE KEY-----\n")
        }
        #expect(error?.message.hasPrefix("tls: parsing private key PEM failed: ") == true)
    }

    @Test("an encrypted key is refused without prompting for a passphrase")
    func encryptedKey() throws {
        let key = try PrivateKey.generate().pemRepresentation()
        let encrypted = try OpenSSLCommand.run(["pkey", "-aes256", "-passout", "pass:secret"], input: key)
        try #require(encrypted.output.contains("BEGIN ENCRYPTED PRIVATE KEY"))
        #expect(throws: TLSError.self) { try PrivateKey(pem: encrypted.output) }
    }

    @Test("a context with a garbage certificate or a mismatched key is a configuration error")
    func badContextConfiguration() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let garbage = #expect(throws: TLSError.self) {
            try TLSContext.server(
                TLSServerConfiguration(
                    identity: TLSIdentity(certificateChainPEM: "garbage", privateKeyPEM: pki.server.privateKeyPEM)))
        }
        #expect(garbage?.code == .configuration)
        #expect(
            garbage?.message == "tls: parsing the server certificate chain failed: no start line (PEM_read_bio_X509)")

        let mismatched = #expect(throws: TLSError.self) {
            try TLSContext.client(
                TLSClientConfiguration(
                    serverName: "localhost", trustRootsPEM: pki.caCertificatePEM,
                    identity: TLSIdentity(
                        certificateChainPEM: pki.client.certificatePEM, privateKeyPEM: pki.server.privateKeyPEM)))
        }
        #expect(mismatched?.code == .configuration)
        #expect(
            mismatched?.message.hasPrefix("tls: loading the client private key failed") == true
                || mismatched?.message.hasPrefix("tls: matching the client private key") == true)

        let badRoots = #expect(throws: TLSError.self) {
            try TLSContext.server(
                TLSServerConfiguration(
                    identity: pki.server.tlsIdentity, clientAuthentication: .required(trustRootsPEM: "nope")))
        }
        #expect(badRoots?.message.hasPrefix("tls: parsing the server trust roots failed") == true)
    }
}

private func readFile(_ path: String) throws -> [UInt8] {
    guard let file = fopen(path, "r") else { throw SocketFailure(description: "fopen \(path): errno \(errno)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while case let count = fread(&chunk, 1, chunk.count, file), count > 0 {
        bytes.append(contentsOf: chunk[..<count])
    }
    return bytes
}
