import Foundation
import Glibc
import Testing
import TrellisAPI
import TrellisAgent
import TrellisDomain
import TrellisRPC
import TrellisTLS
import TrellisTestSupport
import TrellisWire

@Suite("Joining a coordinator")
struct JoinTests {
    @Test("a good token stores the key (0600), a certificate for the name, the CA and agent.json")
    func goodToken() async throws {
        let coordinator = try await FakeCoordinator.start(requireClientCertificate: false)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let token = try JoinToken(parsing: "tok1.s3cret.\(try coordinator.pki.authority.certificate.fingerprintSHA256)")

        let joined = try await Agent.join(
            coordinator: coordinator.server.address, serverName: "127.0.0.1", token: token, name: "web-1",
            labels: ["zone": "a"], dataDirectory: AgentDataDirectory(path: directory))
        await coordinator.stop()
        defer { coordinator.pki.removeFiles() }

        #expect(coordinator.recorded.discovers == 1)
        let request = try #require(coordinator.recorded.joins.first)
        #expect(request.token == token.text)
        #expect(request.name == "web-1")
        #expect(try SigningRequest(pem: request.csrPem).commonName == "web-1")

        #expect(try mode(of: directory + "/agent.key") == 0o600)
        #expect(try mode(of: directory + "/agent.pem") == 0o644)
        let info = try CertificateInfo(pem: String(contentsOfFile: directory + "/agent.pem", encoding: .utf8))
        #expect(info.commonName == "web-1")
        #expect(info.extendedKeyUsage == .clientAuth)
        let key = try PrivateKey(pem: String(contentsOfFile: directory + "/agent.key", encoding: .utf8))
        let requestFromKey = try SigningRequest(pem: key.makeCertificateSigningRequest(commonName: "x"))
        #expect(requestFromKey.publicKeySHA256 == info.publicKeySHA256)
        #expect(
            try Certificate(pem: String(contentsOfFile: directory + "/ca.pem", encoding: .utf8)).fingerprintSHA256
                == token.caFingerprint)

        let stored = try #require(try AgentDataDirectory(path: directory).loadJoined())
        #expect(stored == joined)
        #expect(stored.name == "web-1")
        #expect(stored.labels == ["zone": "a", "region": "test"])
    }

    @Test("a CA whose fingerprint is not the token's is refused before anything is sent or written")
    func fingerprintMismatch() async throws {
        let pki = try TestPKI()
        let coordinator = try await FakeCoordinator.start(
            pki: pki, requireClientCertificate: false, discoverCA: pki.otherCACertificatePEM)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let token = try JoinToken(parsing: "tok1.s3cret.\(try pki.authority.certificate.fingerprintSHA256)")

        let error = await #expect(throws: AgentError.self) {
            try await Agent.join(
                coordinator: coordinator.server.address, serverName: "127.0.0.1", token: token, name: "web-1",
                labels: [:], dataDirectory: AgentDataDirectory(path: directory))
        }
        await coordinator.stop()
        defer { pki.removeFiles() }

        #expect(error?.code == .fingerprintMismatch)
        #expect(error?.message.contains("not \(token.caFingerprint) as the join token says") == true)
        #expect(coordinator.recorded.joins.isEmpty)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(files == ["environments"])
    }

    @Test("the coordinator's refusal is surfaced with its message and nothing is stored")
    func refused() async throws {
        let coordinator = try await FakeCoordinator.start(requireClientCertificate: false) { _, _ in
            throw RPCError(.permissionDenied, "join token 3f2a… was already used")
        }
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let token = try JoinToken(parsing: "3f2a.s3cret.\(try coordinator.pki.authority.certificate.fingerprintSHA256)")

        let error = await #expect(throws: AgentError.self) {
            try await Agent.join(
                coordinator: coordinator.server.address, serverName: "127.0.0.1", token: token, name: "web-1",
                labels: [:], dataDirectory: AgentDataDirectory(path: directory))
        }
        await coordinator.stop()
        defer { coordinator.pki.removeFiles() }

        #expect(error?.code == .joinRefused)
        #expect(error?.message == "join refused: join token 3f2a… was already used")
        #expect(try AgentDataDirectory(path: directory).loadJoined() == nil)
        #expect(!FileManager.default.fileExists(atPath: directory + "/agent.key"))
    }

    @Test("a joined agent connects with the stored certificate and says hello under its name")
    func joinThenConnect() async throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        let joining = try await FakeCoordinator.start(pki: pki, requireClientCertificate: false)
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let token = try JoinToken(parsing: "tok1.s3cret.\(try pki.authority.certificate.fingerprintSHA256)")
        let joined = try await Agent.join(
            coordinator: joining.server.address, serverName: "127.0.0.1", token: token, name: "web-2",
            labels: [:], dataDirectory: AgentDataDirectory(path: directory))
        await joining.stop()

        let coordinator = try await FakeCoordinator.start(pki: pki, requireClientCertificate: true)
        let agent = try Agent(
            configuration: AgentConfiguration(
                name: joined.name, labels: joined.labels, coordinator: coordinator.server.address,
                serverName: "127.0.0.1", identity: joined.identity, caPEM: joined.caPEM, dataDirectory: directory))
        let task = Task { try await agent.run() }
        let connected = await eventually { !coordinator.recorded.hellos.isEmpty }
        agent.shutdown()
        try await task.value
        await coordinator.stop()

        #expect(connected)
        #expect(coordinator.recorded.hellos.first?.name == "web-2")
        #expect(coordinator.recorded.peerNames.first == "web-2")
        #expect(coordinator.recorded.hellos.first?.labels == ["region": "test"])
    }
}

private func mode(of path: String) throws -> mode_t {
    var status = stat()
    guard stat(path, &status) == 0 else { throw AgentError(.dataDirectory, "stat \(path) failed") }
    return status.st_mode & 0o7777
}
