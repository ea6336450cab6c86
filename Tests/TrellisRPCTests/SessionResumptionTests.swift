import Testing
import TrellisAPI
import TrellisRPC
import TrellisTLS
import TrellisTestSupport
import TrellisWire

private let describe = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
    service: "test.Session", method: "Describe", kind: .unary)

@Suite("Clients resuming TLS sessions")
struct SessionResumptionTests {
    private static func start(pki: TestPKI, port: Int = 0, key: SessionTicketKey?) async throws -> TestRPCServer {
        try await TestRPCServer.start(requireClientCertificate: true, pki: pki, port: port, sessionTicketKey: key) {
            router in
            router.register(
                describe,
                unary: { _, context in
                    let name = context.peer.certificate?.commonName ?? "none"
                    return EchoV1.EchoResponse(payload: Array("\(name) resumed=\(context.peer.resumedSession)".utf8))
                })
        }
    }

    private static func ask(_ client: RPCClient) async throws -> String {
        let response = try await client.unary(
            describe, EchoV1.EchoRequest(), options: CallOptions(timeout: .seconds(20), waitForReady: true))
        return String(decoding: response.payload, as: UTF8.self)
    }

    @Test("a client reconnecting to a server restarted with the same ticket key resumes, as the same peer")
    func resumesAfterRestart() async throws {
        let pki = try TestPKI()
        let key = try SessionTicketKey.generate()
        let first = try await Self.start(pki: pki, key: key)
        let client = try first.makeClient(identity: pki.client)
        #expect(try await Self.ask(client) == "\(TestPKI.clientCommonName) resumed=false")
        await first.stop()

        let second = try await Self.start(pki: pki, port: first.address.port, key: key)
        #expect(try await Self.ask(client) == "\(TestPKI.clientCommonName) resumed=true")
        await client.close()
        await second.stop()
    }

    @Test("a server restarted with another key, or none, makes the client verify afresh")
    func otherKeyMeansFullHandshake() async throws {
        let pki = try TestPKI()
        let first = try await Self.start(pki: pki, key: try SessionTicketKey.generate())
        let client = try first.makeClient(identity: pki.client)
        #expect(try await Self.ask(client) == "\(TestPKI.clientCommonName) resumed=false")
        await first.stop()

        let rekeyed = try await Self.start(pki: pki, port: first.address.port, key: try SessionTicketKey.generate())
        #expect(try await Self.ask(client) == "\(TestPKI.clientCommonName) resumed=false")
        await rekeyed.stop()

        let without = try await Self.start(pki: pki, port: first.address.port, key: nil)
        #expect(try await Self.ask(client) == "\(TestPKI.clientCommonName) resumed=false")
        await client.close()
        await without.stop()
    }
}
