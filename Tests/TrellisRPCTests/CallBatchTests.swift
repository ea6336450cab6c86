import Testing
import TrellisAPI
import TrellisRPC
import TrellisTestSupport
import TrellisWire

/// A server handed many calls in one read serves them in batches, flushing each batch's
/// answers before the next starts, so that a client's first answers do not wait for its
/// last calls.
@Suite("Batches of calls in one read")
struct CallBatchTests {
    /// The payload stream `id` echoes: its id, big-endian.
    private static func payload(for id: UInt32) -> [UInt8] {
        [UInt8(id >> 24), UInt8((id >> 16) & 0xFF), UInt8((id >> 8) & 0xFF), UInt8(id & 0xFF)]
    }

    /// Unary Echo calls on streams 1, 3, 5, …: each call's frames together, or every
    /// Open first, then every Message, then every HalfClose.
    private static func calls(_ count: Int, together: Bool) throws -> (ids: [UInt32], bytes: [UInt8]) {
        let ids = (0..<count).map { UInt32(2 * $0 + 1) }
        let open = ids.map {
            WireV1.Frame(streamId: $0, kind: .open(WireV1.Open(method: EchoV1.EchoService.echo.path)))
        }
        let message = try ids.map {
            WireV1.Frame(
                streamId: $0,
                kind: .message(WireV1.Message(data: try EchoV1.EchoRequest(payload: payload(for: $0)).encoded())))
        }
        let halfClose = ids.map { WireV1.Frame(streamId: $0, kind: .halfClose(WireV1.HalfClose())) }
        let frames =
            together ? (0..<count).flatMap { [open[$0], message[$0], halfClose[$0]] } : open + message + halfClose
        var bytes: [UInt8] = []
        let encoder = FrameEncoder(maxFrameSize: 1 << 20)
        for frame in frames { try encoder.encode(frame, appendingTo: &bytes) }
        return (ids, bytes)
    }

    @Test(
        "calls written at once are all answered, whether each call's frames come together or not",
        arguments: [true, false])
    func manyCallsAtOnce(together: Bool) async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        let (ids, bytes) = try Self.calls(100, together: together)
        try await raw.send(bytes)
        var payloads: [UInt32: [UInt8]] = [:]
        var codes: [UInt32: UInt32] = [:]
        while codes.count < ids.count {
            let frame = try #require(try await raw.readFrame(), "the server closed after \(codes.count) answers")
            switch frame.kind {
            case .message(let message):
                payloads[frame.streamId] = try EchoV1.EchoResponse(decoding: message.data).payload
            case .close(let close):
                codes[frame.streamId] = close.code
            default:
                break
            }
        }
        #expect(Set(codes.keys) == Set(ids))
        #expect(codes.values.allSatisfy { $0 == StatusCode.ok.rawValue })
        for id in ids { #expect(payloads[id] == Self.payload(for: id), "stream \(id)") }
        raw.disconnect()
        await server.stop()
    }

    @Test("the answers to the first calls of a burst are flushed before the last calls are served")
    func firstAnswersAreFlushedEarly() async throws {
        let server = try await TestRPCServer.start()
        let raw = try await RawTLSClient.connect(
            address: server.address, tls: server.pki.clientConfiguration(identity: nil))
        let (ids, bytes) = try Self.calls(32, together: true)
        try await raw.send(bytes)
        func closes(_ frames: [WireV1.Frame]) -> Int {
            frames.filter { if case .close = $0.kind { true } else { false } }.count
        }
        let firstFlush = closes(try await raw.readRecordFrames())
        #expect(firstFlush >= 1)
        #expect(firstFlush < ids.count, "all \(ids.count) answers came in the first flush")
        var answered = firstFlush
        while answered < ids.count {
            let frame = try #require(try await raw.readFrame(), "the server closed after \(answered) answers")
            answered += closes([frame])
        }
        #expect(answered == ids.count)
        raw.disconnect()
        await server.stop()
    }
}
