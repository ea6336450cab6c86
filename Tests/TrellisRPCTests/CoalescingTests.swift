import Testing
import TrellisAPI
import TrellisRPC
import TrellisTestSupport
import TrellisWire

private let burst = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
    service: "test.Coalescing", method: "Burst", kind: .serverStreaming)
private let lone = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
    service: "test.Coalescing", method: "Lone", kind: .serverStreaming)

/// `burst`: 50 coalescing writes, each followed by a pause that ends the loop's turn (a
/// timer, which resumes the handler in a later turn), then one plain write. `lone`: one coalescing write, then nothing until cancelled.
private func handlers(_ router: inout RPCRouter) {
    router.register(
        burst,
        serverStreaming: { _, writer, _ in
            for index in 0..<50 {
                try await writer.write(coalescing: EchoV1.EchoResponse(payload: [UInt8(index)]))
                try await Task.sleep(for: .microseconds(100))
            }
            try await writer.write(EchoV1.EchoResponse(payload: [50]))
        })
    router.register(
        lone,
        serverStreaming: { _, writer, _ in
            try await writer.write(coalescing: EchoV1.EchoResponse(payload: [7]))
            while true { try await Task.sleep(for: .milliseconds(20)) }
        })
}

/// The raw frames of one server-streaming call on stream 1.
private func open(_ method: MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>) throws -> [UInt8] {
    var bytes: [UInt8] = []
    let encoder = FrameEncoder(maxFrameSize: 1 << 20)
    for frame in [
        WireV1.Frame(streamId: 1, kind: .open(WireV1.Open(method: method.path))),
        WireV1.Frame(streamId: 1, kind: .message(WireV1.Message(data: try EchoV1.EchoRequest().encoded()))),
        WireV1.Frame(streamId: 1, kind: .halfClose(WireV1.HalfClose())),
    ] {
        try encoder.encode(frame, appendingTo: &bytes)
    }
    return bytes
}

@Suite("Coalescing writes of a response stream")
struct CoalescingTests {
    @Test("coalescing writes share TLS records, and every message arrives in order")
    func burstShareRecords() async throws {
        // A delay far longer than the burst, so that however slowly the handler runs,
        // nothing goes out before its last, plain write.
        var limits = ServerLimits()
        limits.coalescingDelay = .seconds(30)
        let server = try await TestRPCServer.start(limits: limits, configure: handlers)
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        try await raw.send(try open(burst))
        var payloads: [[UInt8]] = []
        var records = 0
        var closed = false
        while !closed {
            let frames = try await raw.readRecordFrames()
            try #require(!frames.isEmpty, "the server closed the connection")
            records += 1
            for frame in frames {
                if case .message(let message) = frame.kind {
                    payloads.append(try EchoV1.EchoResponse(decoding: message.data).payload)
                }
                if case .close = frame.kind { closed = true }
            }
        }
        #expect(payloads == (0...50).map { [UInt8($0)] })
        // All 51 fit in one record (a few, if the kernel splits the read); without
        // coalescing each write ends its own turn and goes out alone: 51 records.
        #expect(records <= 3, "\(records) records for 51 messages")
        raw.disconnect()
        await server.stop()
    }

    @Test("a coalescing write with nothing after it still goes out, after the delay")
    func loneWriteIsFlushed() async throws {
        var limits = ServerLimits()
        limits.coalescingDelay = .milliseconds(300)
        let server = try await TestRPCServer.start(limits: limits, configure: handlers)
        let started = ContinuousClock.now
        let client = try server.makeClient()
        let first = try await client.serverStreaming(lone, EchoV1.EchoRequest()) { responses in
            var iterator = responses.makeAsyncIterator()
            return try await iterator.next()
        }
        #expect(first?.payload == [7])
        #expect(ContinuousClock.now - started >= .milliseconds(250))
        await client.close()
        await server.stop()
    }
}
