import Testing
import TrellisAPI
import TrellisRPC
import TrellisTestSupport
import TrellisWire

private let slow = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
    service: "test.Shutdown", method: "Slow", kind: .unary)
private let hold = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
    service: "test.Shutdown", method: "Hold", kind: .serverStreaming)

@Suite("Graceful shutdown and reconnection")
struct ShutdownTests {
    @Test("shutdown lets an in-flight call finish, then refuses new ones")
    func drainLetsCallsFinish() async throws {
        let probe = Probe()
        let server = try await TestRPCServer.start { router in
            router.register(
                slow,
                unary: { request, _ in
                    probe.add("started")
                    try await Task.sleep(for: .milliseconds(500))
                    return EchoV1.EchoResponse(payload: request.payload)
                })
        }
        let client = try server.makeClient()
        async let answer = client.unary(slow, EchoV1.EchoRequest(payload: [8]))
        #expect(await eventually { probe["started"] == 1 })
        await server.server.shutdown()
        let response = try await answer
        #expect(response.payload == [8])

        let error = try await #require(throws: RPCError.self) {
            _ = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest())
        }
        #expect(error.code == .unavailable)
        await client.close()
        await server.group.shutdown()
    }

    @Test("calls still open after the drain timeout end with UNAVAILABLE")
    func drainTimeout() async throws {
        var limits = ServerLimits()
        limits.drainTimeout = .milliseconds(300)
        let server = try await TestRPCServer.start(limits: limits) { router in
            router.register(
                hold,
                serverStreaming: { _, writer, _ in
                    try await writer.write(EchoV1.EchoResponse())
                    while true { try await Task.sleep(for: .milliseconds(20)) }
                })
        }
        let client = try server.makeClient()
        let error = try await #require(throws: RPCError.self) {
            try await client.serverStreaming(hold, EchoV1.EchoRequest()) { responses in
                var iterator = responses.makeAsyncIterator()
                _ = try await iterator.next()
                let started = ContinuousClock.now
                Task { await server.server.shutdown() }
                while try await iterator.next() != nil {}
                // Without the drain timeout the handler would hold the call for ever; the bound
                // is far past 300 ms for a machine running every test at once.
                #expect(ContinuousClock.now - started < .seconds(120))
            }
        }
        #expect(error.code == .unavailable)
        await client.close()
        await server.group.shutdown()
    }

    @Test("a client reconnects when the server comes back on the same address")
    func reconnects() async throws {
        let first = try await TestRPCServer.start()
        let client = try first.makeClient()
        _ = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest())
        await first.stop()

        let down = try await #require(throws: RPCError.self) {
            _ = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest())
        }
        #expect(down.code == .unavailable)

        let second = try await TestRPCServer.start(pki: first.pki, port: first.address.port)
        let response = try await client.unary(
            EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [4]),
            options: CallOptions(timeout: .seconds(20), waitForReady: true))
        #expect(response.payload == [4])
        await client.close()
        await second.stop()
    }

    @Test("a call that waits for ready succeeds once a server starts listening")
    func waitForReady() async throws {
        let probe = try await TestRPCServer.start()
        let pki = probe.pki
        let port = probe.address.port
        let configuration = probe.clientConfiguration()
        await probe.stop()

        let client = try RPCClient(configuration: configuration)
        async let answer = client.unary(
            EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [6]),
            options: CallOptions(timeout: .seconds(20), waitForReady: true))
        try await Task.sleep(for: .milliseconds(200))
        let server = try await TestRPCServer.start(pki: pki, port: port)
        #expect(try await answer.payload == [6])
        await client.close()
        await server.stop()
    }
}
