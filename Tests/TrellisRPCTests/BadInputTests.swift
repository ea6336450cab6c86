import Testing
import TrellisAPI
import TrellisRPC
import TrellisTestSupport
import TrellisWire

/// Bytes of a frame's length prefix.
private func prefix(_ length: UInt32) -> [UInt8] {
    [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)]
}

/// A varint, for hand-built protobuf.
private func varint(_ value: Int) -> [UInt8] {
    var value = UInt64(value)
    var bytes: [UInt8] = []
    repeat {
        var byte = UInt8(value & 0x7F)
        value >>= 7
        if value != 0 { byte |= 0x80 }
        bytes.append(byte)
    } while value != 0
    return bytes
}

/// A length-delimited field.
private func field(_ number: Int, _ body: [UInt8]) -> [UInt8] {
    varint(number << 3 | 2) + varint(body.count) + body
}

private func goAway(in frames: [WireV1.Frame]) -> WireV1.GoAway? {
    for frame in frames {
        if case .goAway(let goAway) = frame.kind { return goAway }
    }
    return nil
}

/// The server still answers a well-behaved client, promptly.
private func expectServing(_ server: TestRPCServer) async throws {
    let client = try server.makeClient()
    let response = try await client.unary(
        EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [42]), options: CallOptions(timeout: .seconds(10)))
    #expect(response.payload == [42])
    await client.close()
}

@Suite("Bad input ends only the offending connection", .serialized)
struct BadInputTests {
    @Test(
        "a length prefix above the frame limit is answered with GoAway before any allocation",
        arguments: [UInt32.max, UInt32(4 << 20) + 1])
    func oversizedLengthPrefix(length: UInt32) async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        try await raw.send(prefix(length))
        let frames = try await raw.readUntilClosed()
        let reply = try #require(goAway(in: frames))
        #expect(StatusCode(rawValue: reply.code) == .resourceExhausted)
        #expect(reply.message.contains("\(length)"))
        try await expectServing(server)
        raw.disconnect()
        await server.stop()
    }

    @Test("a frame of exactly the limit is accepted")
    func frameAtTheLimit() async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        // A Message on stream 7, padded so that the whole frame is 4 MiB.
        let limit = 4 << 20
        var dataCount = limit - 16
        while true {
            let body = [0x08, 0x07] + field(3, field(1, [UInt8](repeating: 1, count: dataCount)))
            if body.count == limit { break }
            dataCount += limit - body.count
        }
        let body = [0x08, 0x07] + field(3, field(1, [UInt8](repeating: 1, count: dataCount)))
        try await raw.send(prefix(UInt32(body.count)) + body)
        let reply = try #require(try await raw.readFrame(onStream: 7))
        guard case .close(let close) = reply.kind else {
            Issue.record("expected Close on stream 7, got \(reply)")
            return
        }
        #expect(StatusCode(rawValue: close.code) == .failedPrecondition)
        raw.disconnect()
        await server.stop()
    }

    @Test("a zero-length frame is answered with GoAway INVALID_ARGUMENT")
    func zeroLengthFrame() async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        try await raw.send(prefix(0))
        let reply = try #require(goAway(in: try await raw.readUntilClosed()))
        #expect(StatusCode(rawValue: reply.code) == .invalidArgument)
        try await expectServing(server)
        raw.disconnect()
        await server.stop()
    }

    @Test("a frame that fails to decode is answered with GoAway INVALID_ARGUMENT")
    func undecodableFrame() async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        try await raw.send(prefix(4) + [0xFF, 0xFF, 0xFF, 0xFF])
        let reply = try #require(goAway(in: try await raw.readUntilClosed()))
        #expect(StatusCode(rawValue: reply.code) == .invalidArgument)
        try await expectServing(server)
        raw.disconnect()
        await server.stop()
    }

    @Test("a method name that is not UTF-8 is rejected, not repaired")
    func invalidUTF8() async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        let body: [UInt8] = [0x08, 0x01] + field(2, field(1, [0x2F, 0xC3, 0x28]))
        try await raw.send(prefix(UInt32(body.count)) + body)
        let reply = try #require(goAway(in: try await raw.readUntilClosed()))
        #expect(StatusCode(rawValue: reply.code) == .invalidArgument)
        #expect(reply.message.contains("UTF-8"))
        raw.disconnect()
        await server.stop()
    }

    @Test("deeply nested protobuf is rejected without harm", arguments: [2, 15])
    func deeplyNested(fieldNumber: Int) async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        var body: [UInt8] = []
        for _ in 0..<100_000 { body = field(fieldNumber, body) }
        body = [0x08, 0x01] + body
        try await raw.send(prefix(UInt32(body.count)) + body)
        let reply = try #require(goAway(in: try await raw.readUntilClosed()))
        #expect(StatusCode(rawValue: reply.code) == .invalidArgument)
        try await expectServing(server)
        raw.disconnect()
        await server.stop()
    }

    @Test("a truncated frame and a closed socket leave nothing behind")
    func truncatedFrame() async throws {
        let server = try await TestRPCServer.start()
        do {
            let raw = try await RawTLSClient.connect(
                address: server.address, tls: server.pki.clientConfiguration(identity: nil))
            try await raw.send(prefix(100) + [UInt8](repeating: 0, count: 50))
        }
        #expect(await eventually { server.server.connectionCount == 0 })
        try await expectServing(server)
        await server.stop()
    }

    @Test("a connection stalled mid-frame is pinged, then closed, while others are served")
    func stalledMidFrame() async throws {
        var limits = ServerLimits()
        limits.keepaliveInterval = .milliseconds(200)
        limits.keepaliveTimeout = .milliseconds(300)
        let server = try await TestRPCServer.start(limits: limits)
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        try await raw.send(prefix(100) + [UInt8](repeating: 0, count: 10))
        try await expectServing(server)
        let frames = try await raw.readUntilClosed(timeout: .seconds(20))
        #expect(frames.contains { if case .ping = $0.kind { true } else { false } })
        let reply = try #require(goAway(in: frames))
        #expect(reply.message.contains("keepalive"))
        raw.disconnect()
        await server.stop()
    }

    @Test("garbage and plaintext on the TLS port are refused", arguments: ["garbage", "http"])
    func notTLS(kind: String) async throws {
        let server = try await TestRPCServer.start()
        let raw = try RawTCPClient(address: server.address)
        if kind == "http" {
            try raw.send(Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8))
        } else {
            var generator = SystemRandomNumberGenerator()
            try raw.send((0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        #expect(await raw.waitForClose(timeout: .seconds(10)))
        try await expectServing(server)
        await server.stop()
    }

    @Test("a Message on a stream that was never opened gets FAILED_PRECONDITION, and the connection goes on")
    func messageOnUnopenedStream() async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        try await raw.send(frame: WireV1.Frame(streamId: 7, kind: .message(WireV1.Message(data: [1, 2, 3]))))
        let reply = try #require(try await raw.readFrame(onStream: 7))
        guard case .close(let close) = reply.kind else {
            Issue.record("expected Close, got \(reply)")
            return
        }
        #expect(StatusCode(rawValue: close.code) == .failedPrecondition)

        // A real call on the same connection still works.
        try await raw.send(
            frame: WireV1.Frame(streamId: 9, kind: .open(WireV1.Open(method: EchoV1.EchoService.echo.path))))
        try await raw.send(
            frame: WireV1.Frame(
                streamId: 9, kind: .message(WireV1.Message(data: try EchoV1.EchoRequest(payload: [7]).encoded()))))
        try await raw.send(frame: WireV1.Frame(streamId: 9, kind: .halfClose(WireV1.HalfClose())))
        let answer = try #require(try await raw.readFrame(onStream: 9))
        guard case .message(let message) = answer.kind else {
            Issue.record("expected a Message, got \(answer)")
            return
        }
        #expect(try EchoV1.EchoResponse(decoding: message.data).payload == [7])
        raw.disconnect()
        await server.stop()
    }

    @Test("an Open whose stream id does not increase is a connection error")
    func nonIncreasingStreamID() async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        let open = WireV1.Open(method: EchoV1.EchoService.echo.path)
        try await raw.send(frame: WireV1.Frame(streamId: 5, kind: .open(open)))
        try await raw.send(frame: WireV1.Frame(streamId: 3, kind: .open(open)))
        let reply = try #require(goAway(in: try await raw.readUntilClosed()))
        #expect(StatusCode(rawValue: reply.code) == .invalidArgument)
        #expect(reply.lastStreamId == 5)
        raw.disconnect()
        await server.stop()
    }

    @Test("a unary call with two request messages gets INVALID_ARGUMENT")
    func unaryWithTwoMessages() async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        let request = try EchoV1.EchoRequest(payload: [1]).encoded()
        try await raw.send(
            frame: WireV1.Frame(streamId: 1, kind: .open(WireV1.Open(method: EchoV1.EchoService.echo.path))))
        try await raw.send(frame: WireV1.Frame(streamId: 1, kind: .message(WireV1.Message(data: request))))
        try await raw.send(frame: WireV1.Frame(streamId: 1, kind: .message(WireV1.Message(data: request))))
        try await raw.send(frame: WireV1.Frame(streamId: 1, kind: .halfClose(WireV1.HalfClose())))
        let reply = try #require(try await raw.readFrame(onStream: 1))
        guard case .close(let close) = reply.kind else {
            Issue.record("expected Close, got \(reply)")
            return
        }
        #expect(StatusCode(rawValue: close.code) == .invalidArgument)
        raw.disconnect()
        await server.stop()
    }

    @Test("200 connections that never handshake do not delay a real client")
    func idleUnhandshakenConnections() async throws {
        // A server that served handshakes one at a time would keep the real client waiting
        // until the idle ones time out: five minutes, far beyond the bound below, which is
        // generous for a machine that runs every test at once.
        var limits = ServerLimits()
        limits.handshakeTimeout = .seconds(300)
        let server = try await TestRPCServer.start(limits: limits)
        var idle: [RawTCPClient] = []
        for _ in 0..<200 { idle.append(try RawTCPClient(address: server.address)) }
        #expect(await eventually { server.server.connectionCount == 200 })

        let client = try server.makeClient()
        let started = ContinuousClock.now
        let response = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [1]))
        let elapsed = ContinuousClock.now - started
        #expect(response.payload == [1])
        #expect(elapsed < .seconds(60), "answered after \(elapsed)")
        await client.close()
        idle.removeAll()
        #expect(await eventually { server.server.connectionCount == 0 })
        await server.stop()
    }

    @Test("an oversized frame after an Open names that stream in the GoAway")
    func goAwayNamesLastStream() async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        try await raw.send(
            frame: WireV1.Frame(streamId: 3, kind: .open(WireV1.Open(method: EchoV1.EchoService.expand.path))))
        try await raw.send(prefix(UInt32.max))
        let reply = try #require(goAway(in: try await raw.readUntilClosed()))
        #expect(reply.lastStreamId == 3)
        raw.disconnect()
        await server.stop()
    }

    @Test(
        "frames on the wrong stream or from the wrong side are connection errors",
        arguments: [
            WireV1.Frame(streamId: 3, kind: .ping(WireV1.Ping(payload: 1))),
            WireV1.Frame(streamId: 0, kind: .message(WireV1.Message(data: [1]))),
            WireV1.Frame(streamId: 1, kind: .close(WireV1.Close())),
        ])
    func misplacedFrames(frame: WireV1.Frame) async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        try await raw.send(frame: frame)
        let reply = try #require(goAway(in: try await raw.readUntilClosed()))
        #expect(StatusCode(rawValue: reply.code) == .invalidArgument)
        raw.disconnect()
        await server.stop()
    }

    @Test("a Message after HalfClose gets FAILED_PRECONDITION")
    func messageAfterHalfClose() async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        try await raw.send(
            frame: WireV1.Frame(streamId: 1, kind: .open(WireV1.Open(method: EchoV1.EchoService.chat.path))))
        try await raw.send(frame: WireV1.Frame(streamId: 1, kind: .halfClose(WireV1.HalfClose())))
        try await raw.send(frame: WireV1.Frame(streamId: 1, kind: .message(WireV1.Message(data: []))))
        var code: StatusCode?
        while let frame = try await raw.readFrame(onStream: 1) {
            if case .close(let close) = frame.kind {
                code = StatusCode(rawValue: close.code)
                break
            }
        }
        // The chat handler may finish first (OK) when it sees the HalfClose; otherwise
        // the late message is refused.
        #expect(code == .failedPrecondition || code == .ok)
        raw.disconnect()
        await server.stop()
    }

    @Test(
        "metadata that breaks the rules gets INVALID_ARGUMENT",
        arguments: [
            [("Authorization", "Bearer x")],
            [("trellis-internal", "1")],
            [("authorization", "Bearer a"), ("authorization", "Bearer b")],
            [("request-id", String(repeating: "r", count: 129))],
        ])
    func invalidMetadata(entries: [(String, String)]) async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        let metadata = entries.map { WireV1.MetadataEntry(key: $0.0, value: $0.1) }
        try await raw.send(
            frame: WireV1.Frame(
                streamId: 1, kind: .open(WireV1.Open(method: EchoV1.EchoService.echo.path, metadata: metadata))))
        let reply = try #require(try await raw.readFrame(onStream: 1))
        guard case .close(let close) = reply.kind else {
            Issue.record("expected Close, got \(reply)")
            return
        }
        #expect(StatusCode(rawValue: close.code) == .invalidArgument)
        raw.disconnect()
        await server.stop()
    }
}
