import Testing
import TrellisAPI
import TrellisRPC
import TrellisTestSupport
import TrellisWire

private let hold = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
    service: "test.Limits", method: "Hold", kind: .serverStreaming)

/// A handler that answers once and then holds the stream open until cancelled.
private func holding(_ router: inout RPCRouter) {
    router.register(
        hold,
        serverStreaming: { _, writer, _ in
            try await writer.write(EchoV1.EchoResponse())
            while true { try await Task.sleep(for: .milliseconds(20)) }
        })
}

@Suite("Configurable limits, each with a clear error")
struct LimitTests {
    @Test("a stream beyond the concurrent-stream limit gets RESOURCE_EXHAUSTED")
    func concurrentStreamLimit() async throws {
        var limits = ServerLimits()
        limits.maxConcurrentStreams = 2
        let server = try await TestRPCServer.start(limits: limits, configure: holding)
        let client = try server.makeClient()
        try await client.serverStreaming(hold, EchoV1.EchoRequest()) { first in
            var a = first.makeAsyncIterator()
            _ = try await a.next()
            try await client.serverStreaming(hold, EchoV1.EchoRequest()) { second in
                var b = second.makeAsyncIterator()
                _ = try await b.next()
                let error = try await #require(throws: RPCError.self) {
                    _ = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest())
                }
                #expect(error.code == .resourceExhausted)
                #expect(error.message.contains("2"))
            }
        }
        // With the streams gone, calls go through again.
        let response = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [3]))
        #expect(response.payload == [3])
        await client.close()
        await server.stop()
    }

    @Test("connections beyond the connection limit are closed at once")
    func connectionLimit() async throws {
        var limits = ServerLimits()
        limits.maxConnections = 2
        let server = try await TestRPCServer.start(limits: limits)
        let first = try server.makeClient()
        let second = try server.makeClient()
        try await first.connect(timeout: .seconds(10))
        try await second.connect(timeout: .seconds(10))
        let third = try server.makeClient()
        let error = try await #require(throws: RPCError.self) {
            _ = try await third.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest())
        }
        #expect(error.code == .unavailable)
        await first.close()
        #expect(await eventually { server.server.connectionCount <= 1 })
        let response = try await third.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [1]))
        #expect(response.payload == [1])
        await second.close()
        await third.close()
        await server.stop()
    }

    @Test("a connection that never finishes its handshake is closed after the handshake timeout")
    func handshakeTimeout() async throws {
        var limits = ServerLimits()
        limits.handshakeTimeout = .milliseconds(300)
        let server = try await TestRPCServer.start(limits: limits)
        let raw = try RawTCPClient(address: server.address)
        let started = ContinuousClock.now
        #expect(await raw.waitForClose(timeout: .seconds(20)))
        #expect(ContinuousClock.now - started >= .milliseconds(250))
        await server.stop()
    }

    @Test("an idle connection is closed with GoAway and the client reconnects for the next call")
    func idleTimeout() async throws {
        var limits = ServerLimits()
        limits.idleTimeout = .seconds(2)
        let server = try await TestRPCServer.start(limits: limits)
        let client = try server.makeClient()
        _ = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest())
        #expect(await eventually { server.server.connectionCount == 0 })
        let response = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [2]))
        #expect(response.payload == [2])
        await client.close()
        await server.stop()
    }

    @Test("metadata larger than the limit gets RESOURCE_EXHAUSTED")
    func metadataLimit() async throws {
        let server = try await TestRPCServer.start()
        let client = try server.makeClient()
        let error = try await #require(throws: RPCError.self) {
            _ = try await client.unary(
                EchoV1.EchoService.echo, EchoV1.EchoRequest(),
                options: CallOptions(metadata: ["big": String(repeating: "x", count: 9000)]))
        }
        #expect(error.code == .resourceExhausted)
        #expect(error.message.contains("metadata"))
        await client.close()
        await server.stop()
    }

    @Test("a client answers keepalive pings and its connection stays open")
    func keepaliveAnswered() async throws {
        var limits = ServerLimits()
        limits.keepaliveInterval = .milliseconds(100)
        limits.keepaliveTimeout = .seconds(1)
        let server = try await TestRPCServer.start(limits: limits, configure: holding)
        let client = try server.makeClient()
        try await client.serverStreaming(hold, EchoV1.EchoRequest()) { responses in
            var iterator = responses.makeAsyncIterator()
            _ = try await iterator.next()
            // Many keepalive intervals and more than one timeout pass; the pings are
            // answered, so nothing closes.
            try await Task.sleep(for: .milliseconds(2_500))
            #expect(server.server.connectionCount == 1)
        }
        await client.close()
        await server.stop()
    }
}
