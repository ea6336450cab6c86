import Testing
import TrellisAPI
import TrellisRPC
import TrellisTLS
import TrellisTestSupport
import TrellisWire

private let whoami = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
    service: "test.Identity", method: "Whoami", kind: .unary)

@Suite("A listener that requires client certificates")
struct MutualTLSTests {
    private static func start() async throws -> TestRPCServer {
        try await TestRPCServer.start(requireClientCertificate: true) { router in
            router.register(
                whoami,
                unary: { _, context in
                    EchoV1.EchoResponse(payload: Array((context.peer.certificate?.commonName ?? "none").utf8))
                })
        }
    }

    @Test("a certificate from the CA is accepted and its identity reaches the handler")
    func validCertificate() async throws {
        let server = try await Self.start()
        let client = try server.makeClient(identity: server.pki.client)
        let response = try await client.unary(whoami, EchoV1.EchoRequest())
        #expect(String(decoding: response.payload, as: UTF8.self) == TestPKI.clientCommonName)
        await client.close()
        await server.stop()
    }

    @Test("no certificate, another CA's certificate and an expired one are each refused")
    func refusedCertificates() async throws {
        let server = try await Self.start()
        for identity in [nil, server.pki.foreignClient, server.pki.expiredClient] {
            let client = try server.makeClient(identity: identity)
            let error = try await #require(throws: RPCError.self) {
                _ = try await client.unary(whoami, EchoV1.EchoRequest(), options: CallOptions(timeout: .seconds(10)))
            }
            #expect(error.code == .unavailable, "\(identity?.certificatePath ?? "no certificate"): \(error)")
            await client.close()
        }
        // The listener still serves a client with a good certificate.
        let client = try server.makeClient(identity: server.pki.client)
        _ = try await client.unary(whoami, EchoV1.EchoRequest())
        await client.close()
        #expect(await eventually { server.server.connectionCount == 0 })
        await server.stop()
    }
}
