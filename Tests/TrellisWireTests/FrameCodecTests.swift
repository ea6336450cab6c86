import Testing
import TrellisWire

@Suite("Frames on the connection")
struct FrameCodecTests {
    static let frames: [WireV1.Frame] = [
        .init(streamId: 1, kind: .open(.init(method: "/trellis.v1.HealthService/Check", timeoutMs: 500))),
        .init(streamId: 1, kind: .message(.init(data: Array(repeating: 0x5A, count: 300)))),
        .init(streamId: 1, kind: .halfClose(.init())),
        .init(streamId: 1, kind: .close(.init(code: 0, message: "ok"))),
        .init(streamId: 0, kind: .ping(.init(payload: 7))),
    ]

    func encodedStream() throws -> [UInt8] {
        var buffer: [UInt8] = []
        for frame in Self.frames {
            try FrameEncoder().encode(frame, appendingTo: &buffer)
        }
        return buffer
    }

    func drain(_ decoder: inout FrameDecoder) throws(FrameError) -> [WireV1.Frame] {
        var frames: [WireV1.Frame] = []
        while let frame = try decoder.nextFrame() {
            frames.append(frame)
        }
        return frames
    }

    func frameError(decoding stream: [UInt8], maxFrameSize: Int = FrameDecoder.defaultMaxFrameSize) -> FrameError? {
        var decoder = FrameDecoder(maxFrameSize: maxFrameSize)
        decoder.append(stream)
        do {
            _ = try drain(&decoder)
            return nil
        } catch {
            return error
        }
    }

    @Test("the encoder writes a big-endian length prefix before the frame")
    func prefix() throws {
        var buffer: [UInt8] = [0xEE]
        let frame = WireV1.Frame(streamId: 0, kind: .ping(.init(payload: 1)))
        try FrameEncoder().encode(frame, appendingTo: &buffer)
        #expect(buffer == [0xEE] + prefixed(try frame.encoded()))
    }

    @Test("several frames in one chunk come out in order")
    func severalInOneChunk() throws {
        var decoder = FrameDecoder()
        decoder.append(try encodedStream())
        #expect(try drain(&decoder) == Self.frames)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("a stream split at every byte boundary decodes the same frames")
    func everySplit() throws {
        let stream = try encodedStream()
        for split in 0...stream.count {
            var decoder = FrameDecoder()
            decoder.append(Array(stream[..<split]))
            var frames = try drain(&decoder)
            decoder.append(Array(stream[split...]))
            frames += try drain(&decoder)
            #expect(frames == Self.frames, "split at \(split)")
        }
    }

    @Test("bytes arriving one at a time decode, and a partial frame shows as buffered")
    func byteAtATime() throws {
        let stream = try encodedStream()
        var decoder = FrameDecoder()
        var frames: [WireV1.Frame] = []
        var peak = 0
        for byte in stream {
            decoder.append([byte])
            peak = max(peak, decoder.bufferedByteCount)
            frames += try drain(&decoder)
        }
        #expect(frames == Self.frames)
        #expect(peak <= 4 + 310)

        var partial = FrameDecoder()
        partial.append(Array(stream[..<6]))
        #expect(try partial.nextFrame() == nil)
        #expect(partial.bufferedByteCount == 6)
    }

    @Test("a 0xFFFFFFFF length prefix is refused before any body arrives")
    func hugePrefix() throws {
        let error = try #require(frameError(decoding: [0xFF, 0xFF, 0xFF, 0xFF]))
        #expect(error.code == .frameTooLarge)
        #expect(error.message == "wire: frame of 4294967295 bytes exceeds the limit of 4194304")
    }

    @Test("a frame one byte over the limit is refused and one exactly at the limit is accepted")
    func limit() throws {
        let frame = WireV1.Frame(streamId: 1, kind: .message(.init(data: Array(repeating: 1, count: 100))))
        let body = try frame.encoded()
        let atLimit = prefixed(body)

        var decoder = FrameDecoder(maxFrameSize: body.count)
        decoder.append(atLimit)
        #expect(try decoder.nextFrame() == frame)

        let over = try #require(frameError(decoding: atLimit, maxFrameSize: body.count - 1))
        #expect(over.code == .frameTooLarge)
        #expect(over.message == "wire: frame of \(body.count) bytes exceeds the limit of \(body.count - 1)")

        // The prefix alone is enough to refuse.
        let early = try #require(frameError(decoding: Array(atLimit[..<4]), maxFrameSize: body.count - 1))
        #expect(early.code == .frameTooLarge)

        var encoded: [UInt8] = [1, 2]
        #expect(throws: FrameError.self) {
            try FrameEncoder(maxFrameSize: body.count - 1).encode(frame, appendingTo: &encoded)
        }
        #expect(encoded == [1, 2])
    }

    @Test("a zero-length frame is an error")
    func emptyFrame() throws {
        #expect(frameError(decoding: [0, 0, 0, 0])?.code == .emptyFrame)
    }

    @Test("a frame without a kind is an error")
    func missingKind() throws {
        let error = try #require(frameError(decoding: prefixed([0x08, 0x05])))
        #expect(error.code == .missingKind)
        #expect(error.message == "wire: frame on stream 5 carries no kind")
        var buffer: [UInt8] = []
        #expect(throws: FrameError.self) { try FrameEncoder().encode(WireV1.Frame(), appendingTo: &buffer) }
    }

    @Test("an undecodable frame is an error carrying the decoding error")
    func undecodable() throws {
        let body = [0x08, 0x01] + lengthDelimited(field: 2, lengthDelimited(field: 1, [0xFF]))
        let error = try #require(frameError(decoding: prefixed(body)))
        #expect(error.code == .undecodable)
        #expect((error.cause as? WireDecodingError)?.code == .invalidString)
        #expect(error.message == "wire: undecodable frame: field open (2): field method (1): invalid UTF-8 at offset 6")
    }

    @Test("after an error every later call throws it again")
    func sticky() throws {
        var decoder = FrameDecoder()
        decoder.append([0, 0, 0, 0] + (try encodedStream()))
        #expect(throws: FrameError.self) { try decoder.nextFrame() }
        #expect(throws: FrameError.self) { try decoder.nextFrame() }
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test("an encoding failure leaves the buffer as it was")
    func encodeFailure() throws {
        var buffer: [UInt8] = [9]
        #expect(throws: FrameError.self) {
            try FrameEncoder().encode(.init(kind: .close(.init(message: "a\0"))), appendingTo: &buffer)
        }
        #expect(buffer == [9])
    }
}
