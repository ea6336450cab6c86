import Testing
import TrellisTLS
import TrellisTestSupport

@Suite("Certificates issued by a CertificateAuthority")
struct CertificateAuthorityTests {
    @Test("a generated CA is a self-signed, critical CA:TRUE pathlen 0 certificate for 10 years")
    func authorityProperties() throws {
        let now = CertificateValidity.currentTime()
        let authority = try CertificateAuthority.generate(commonName: "Trellis CA dev")
        let info = try authority.certificate.info()

        #expect(info.subject == "CN=Trellis CA dev")
        #expect(info.commonName == "Trellis CA dev")
        #expect(info.issuer == info.subject)
        #expect(info.isCA)
        #expect(info.pathLengthConstraint == 0)
        #expect(info.keyUsage == [.keyCertSign, .cRLSign])
        #expect(info.extendedKeyUsage == nil)
        #expect(info.serialNumberHex.count == 32)
        #expect(info.notAfter - info.notBefore == 3_650 * 86_400)
        #expect(abs(info.notBefore - (now - CertificateValidity.clockSkewAllowance)) <= 5)

        let text = try OpenSSLCommand.run(
            ["x509", "-noout", "-text"], input: authority.certificate.pemRepresentation())
        #expect(text.status == 0)
        #expect(text.output.contains("Version: 3 (0x2)"))
        #expect(text.output.contains("X509v3 Basic Constraints: critical"))
        #expect(text.output.contains("CA:TRUE, pathlen:0"))
        #expect(text.output.contains("X509v3 Key Usage: critical"))
        #expect(text.output.contains("Certificate Sign, CRL Sign"))
        #expect(text.output.contains("X509v3 Subject Key Identifier"))
        #expect(text.output.contains("NIST CURVE: P-256"))
        #expect(text.output.contains("ecdsa-with-SHA256"))
    }

    @Test("a server certificate is a 90-day serverAuth leaf for the names given, backdated for skew")
    func serverCertificateProperties() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let now = CertificateValidity.currentTime()
        let info = try CertificateInfo(pem: pki.server.certificatePEM)
        let authority = try pki.authority.certificate.info()

        #expect(info.commonName == "localhost")
        #expect(info.issuer == authority.subject)
        #expect(!info.isCA)
        #expect(info.keyUsage == .digitalSignature)
        #expect(info.extendedKeyUsage == .serverAuth)
        #expect(info.dnsNames == ["localhost"])
        #expect(info.ipAddresses == ["127.0.0.1"])
        #expect(info.notAfter - info.notBefore == 90 * 86_400)
        #expect(info.notBefore <= now - CertificateValidity.clockSkewAllowance + 5)
        #expect(info.notBefore >= now - CertificateValidity.clockSkewAllowance - 5)

        let text = try OpenSSLCommand.run(["x509", "-noout", "-text", "-in", pki.server.certificatePath])
        #expect(text.output.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"))
        #expect(text.output.contains("X509v3 Key Usage: critical\n                Digital Signature\n"))
        #expect(text.output.contains("TLS Web Server Authentication"))
        #expect(text.output.contains("DNS:localhost, IP Address:127.0.0.1"))
        #expect(text.output.contains("X509v3 Authority Key Identifier"))

        let verify = try OpenSSLCommand.run([
            "verify", "-CAfile", pki.caCertificatePath, "-purpose", "sslserver", pki.server.certificatePath,
        ])
        #expect(verify.status == 0, "\(verify.output)")
    }

    @Test("certificates get distinct random serial numbers")
    func distinctSerials() throws {
        let authority = try CertificateAuthority.generate()
        let first = try authority.issueClientCertificate(commonName: "agent-a").certificate.info()
        let second = try authority.issueClientCertificate(commonName: "agent-a").certificate.info()
        #expect(first.serialNumberHex != second.serialNumberHex)
    }

    @Test(
        "IPv6 addresses and several DNS names go into the SAN extension",
        arguments: [
            (["a.example", "*.b.example"], ["::1", "10.0.0.7"])
        ])
    func manyNames(dnsNames: [String], ipAddresses: [String]) throws {
        let authority = try CertificateAuthority.generate()
        let issued = try authority.issueServerCertificate(
            for: SubjectAlternativeNames(dnsNames: dnsNames, ipAddresses: ipAddresses))
        let info = try issued.certificate.info()
        #expect(info.dnsNames == dnsNames)
        #expect(info.ipAddresses == ipAddresses)
    }

    @Test(
        "names that are not DNS names or addresses are refused",
        arguments: [
            "bad name", "a,DNS:evil.example", "-leading.example", "", "a..b",
        ])
    func badNamesRefused(name: String) throws {
        let authority = try CertificateAuthority.generate()
        #expect(throws: TLSError.self) {
            try authority.issueServerCertificate(for: SubjectAlternativeNames(dnsNames: [name]))
        }
        #expect(throws: TLSError.self) {
            try authority.issueServerCertificate(for: SubjectAlternativeNames(ipAddresses: [name]))
        }
    }

    @Test("an expired validity gives a certificate whose notAfter lies in the past")
    func expiredValidity() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let info = try CertificateInfo(pem: pki.expiredClient.certificatePEM)
        #expect(info.notAfter < CertificateValidity.currentTime())
    }

    @Test("a CA saved as PEM loads back and signs certificates that chain to it")
    func authorityRoundTrip() throws {
        let original = try CertificateAuthority.generate(commonName: "Trellis CA saved")
        let loaded = try CertificateAuthority(
            certificatePEM: original.certificate.pemRepresentation(),
            privateKeyPEM: original.privateKey.pemRepresentation())
        let issued = try loaded.issueClientCertificate(commonName: "agent-7")
        #expect(try issued.certificate.info().issuer == "CN=Trellis CA saved")
        #expect(try loaded.certificate.info().sha256Fingerprint == original.certificate.info().sha256Fingerprint)
    }

    @Test("loading a CA refuses a key of another certificate and a certificate that is not a CA")
    func authorityLoadRefusals() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let wrongKey = #expect(throws: TLSError.self) {
            try CertificateAuthority(certificatePEM: pki.caCertificatePEM, privateKeyPEM: pki.client.privateKeyPEM)
        }
        #expect(wrongKey?.message.contains("X509_check_private_key") == true)

        let notCA = #expect(throws: TLSError.self) {
            try CertificateAuthority(certificatePEM: pki.server.certificatePEM, privateKeyPEM: pki.server.privateKeyPEM)
        }
        #expect(notCA?.message == "tls: loading the certificate authority failed: CN=localhost is not a CA certificate")
    }
}
