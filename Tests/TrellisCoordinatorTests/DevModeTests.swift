import Foundation
import Testing
import TrellisAPI
import TrellisRPC
import TrellisTLS
import TrellisTestSupport
import TrellisWire

/// A client of a dev-mode trellisd trusting its generated CA.
private func client(
    of address: SocketAddress, dataDirectory: String, token: String? = nil, identity: TLSIdentity? = nil
) throws -> RPCClient {
    let ca = try String(contentsOfFile: "\(dataDirectory)/ca.pem", encoding: .utf8)
    var configuration = RPCClient.Configuration(
        address: address,
        tls: TLSClientConfiguration(serverName: "127.0.0.1", trustRootsPEM: ca, identity: identity),
        connectTimeout: .seconds(10))
    if let token { configuration.setBearerToken(token) }
    return try RPCClient(configuration: configuration)
}

private func readToken(_ dataDirectory: String) throws -> String {
    try String(contentsOfFile: "\(dataDirectory)/admin.token", encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines)
}

@Suite("trellisd --dev, as a real process")
struct DevModeTests {
    @Test("first start writes the CA and admin token, then serves health over TLS the CA verifies")
    func firstStart() async throws {
        let trellisd = try TrellisdProcess(dev: TrellisdProcess.temporaryDataDirectory())
        defer { trellisd.removeData() }
        let (api, _) = try await trellisd.waitUntilReady()

        let files = try FileManager.default.contentsOfDirectory(atPath: trellisd.dataDirectory)
        #expect(Set(files).isSuperset(of: ["ca.pem", "ca.key", "admin.token", "server.pem", "server.key"]))
        let tokenMode =
            try FileManager.default.attributesOfItem(atPath: "\(trellisd.dataDirectory)/admin.token")[
                .posixPermissions] as? Int
        #expect(tokenMode == 0o600)
        let caInfo = try CertificateInfo(
            pem: String(contentsOfFile: "\(trellisd.dataDirectory)/ca.pem", encoding: .utf8))
        #expect(caInfo.isCA)
        let serverInfo = try CertificateInfo(
            pem: String(contentsOfFile: "\(trellisd.dataDirectory)/server.pem", encoding: .utf8))
        #expect(serverInfo.dnsNames.contains("localhost"))
        #expect(serverInfo.ipAddresses.contains("127.0.0.1"))

        let health = try client(of: api, dataDirectory: trellisd.dataDirectory)
        let response = try await health.unary(TrellisV1.HealthService.check, TrellisV1.HealthCheckRequest())
        #expect(response.status == .serving)
        await health.close()
        #expect(await trellisd.terminate() == 0)
    }

    @Test("a restart with the same data directory reuses the CA, the server certificate and the token")
    func restartReuses() async throws {
        let directory = TrellisdProcess.temporaryDataDirectory()
        let first = try TrellisdProcess(dev: directory)
        defer { first.removeData() }
        _ = try await first.waitUntilReady()
        let files = ["ca.pem", "server.pem", "admin.token"]
        let before = try files.map { try String(contentsOfFile: "\(directory)/\($0)", encoding: .utf8) }
        #expect(await first.terminate() == 0)

        let second = try TrellisdProcess(dev: directory)
        let (api, _) = try await second.waitUntilReady()
        let after = try files.map { try String(contentsOfFile: "\(directory)/\($0)", encoding: .utf8) }
        #expect(before == after)
        let health = try client(of: api, dataDirectory: directory)
        #expect(
            try await health.unary(TrellisV1.HealthService.check, TrellisV1.HealthCheckRequest()).status == .serving)
        await health.close()
        #expect(await second.terminate() == 0)
    }

    @Test("a second trellisd on a data directory in use exits with an error naming it, and the first serves on")
    func secondCoordinatorRefused() async throws {
        let directory = TrellisdProcess.temporaryDataDirectory()
        let first = try TrellisdProcess(dev: directory)
        defer { first.removeData() }
        let (api, _) = try await first.waitUntilReady()

        let second = try TrellisdProcess(dev: directory)
        let status = await second.waitForExit(timeout: .seconds(60))
        #expect(status == 1)
        #expect(second.log.contains("\(directory)/state.db is in use by another process"))
        #expect(!second.log.contains("msg=\"ready\""))

        let health = try client(of: api, dataDirectory: directory)
        #expect(
            try await health.unary(TrellisV1.HealthService.check, TrellisV1.HealthCheckRequest()).status == .serving)
        await health.close()
        #expect(await first.terminate() == 0)
    }

    @Test("API methods other than health need the admin token")
    func tokenRequired() async throws {
        let trellisd = try TrellisdProcess(dev: TrellisdProcess.temporaryDataDirectory(), extra: ["--enable-echo"])
        defer { trellisd.removeData() }
        let (api, _) = try await trellisd.waitUntilReady()
        let token = try readToken(trellisd.dataDirectory)

        for presented in [nil, "trl_not-the-token"] {
            let anonymous = try client(of: api, dataDirectory: trellisd.dataDirectory, token: presented)
            let error = try await #require(throws: RPCError.self) {
                _ = try await anonymous.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest())
            }
            #expect(error.code == .unauthenticated)
            await anonymous.close()
        }
        let admin = try client(of: api, dataDirectory: trellisd.dataDirectory, token: token)
        #expect(try await admin.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [1])).payload == [1])
        await admin.close()
        await trellisd.terminate()
    }

    @Test("the agent listener: without a certificate only Discover, Join and health; Connect needs the CA's")
    func agentListener() async throws {
        let trellisd = try TrellisdProcess(dev: TrellisdProcess.temporaryDataDirectory(), extra: ["--no-local-agent"])
        defer { trellisd.removeData() }
        let (_, agent) = try await trellisd.waitUntilReady()
        let directory = trellisd.dataDirectory
        let caPEM = try String(contentsOfFile: "\(directory)/ca.pem", encoding: .utf8)

        let anonymous = try client(of: agent, dataDirectory: directory)
        #expect(
            try await anonymous.unary(TrellisV1.AgentService.discover, TrellisV1.DiscoverRequest()).caPem == caPEM)
        let refused = try await #require(throws: RPCError.self) {
            try await anonymous.bidirectional(TrellisV1.AgentService.connect) { requests, responses in
                try await requests.write(TrellisV1.AgentMessage(body: .hello(TrellisV1.AgentHello(name: "sneaky"))))
                for try await _ in responses {}
            }
        }
        #expect(refused.code == .unauthenticated)
        await anonymous.close()

        // A certificate from another CA is refused at the handshake.
        let stranger = try CertificateAuthority.generate(commonName: "Some other CA")
        let outsider = try client(
            of: agent, dataDirectory: directory,
            identity: stranger.issueClientCertificate(commonName: "outsider").identity())
        let handshake = try await #require(throws: RPCError.self) {
            _ = try await outsider.unary(TrellisV1.HealthService.check, TrellisV1.HealthCheckRequest())
        }
        #expect(handshake.code == .unavailable)
        await outsider.close()

        let authority = try CertificateAuthority(
            certificatePEM: caPEM,
            privateKeyPEM: String(contentsOfFile: "\(directory)/ca.key", encoding: .utf8))
        let issued = try authority.issueClientCertificate(commonName: "agent-test.local")
        let member = try client(of: agent, dataDirectory: directory, identity: issued.identity())
        #expect(
            try await member.unary(TrellisV1.HealthService.check, TrellisV1.HealthCheckRequest()).status == .serving)
        await member.close()
        await trellisd.terminate()
    }

    @Test("SIGTERM turns health NOT_SERVING for watchers, ends their calls and exits 0")
    func gracefulShutdown() async throws {
        let trellisd = try TrellisdProcess(dev: TrellisdProcess.temporaryDataDirectory())
        defer { trellisd.removeData() }
        let (api, _) = try await trellisd.waitUntilReady()
        let watcher = try client(of: api, dataDirectory: trellisd.dataDirectory)
        let statuses = try await watcher.serverStreaming(TrellisV1.HealthService.watch, TrellisV1.HealthCheckRequest())
        {
            responses in
            var seen: [TrellisV1.ServingStatus] = []
            for try await response in responses {
                seen.append(response.status)
                if seen.count == 1 { trellisd.process.terminate() }
            }
            return seen
        }
        #expect(statuses == [.serving, .notServing])
        #expect(await trellisd.waitForExit() == 0)
        await watcher.close()
    }

    @Test(
        "bad flags exit 2 with a message naming the problem",
        arguments: [
            (["--data", "/tmp/x"], "--tls-cert"),
            (["--dev", "--listen", "nowhere"], "nowhere"),
            (["--dev", "--bogus"], "--bogus"),
        ])
    func badFlags(arguments: [String], mentions: String) async throws {
        let trellisd = try TrellisdProcess(arguments: arguments, dataDirectory: "/nonexistent")
        let status = await trellisd.waitForExit()
        #expect(status != nil && status != 0)
        #expect(trellisd.log.contains(mentions), "output: \(trellisd.log)")
    }
}
