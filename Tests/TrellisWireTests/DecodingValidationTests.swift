import Testing
import TrellisAPI

@_spi(TrellisGenerated) @testable import TrellisWire

@Suite("Decoding rejects what protobuf-c would accept or mangle")
struct DecodingValidationTests {
    /// A Frame with an Open whose method holds `method` as raw bytes.
    func openFrame(method: [UInt8]) -> [UInt8] {
        [0x08, 0x01] + lengthDelimited(field: 2, lengthDelimited(field: 1, method))
    }

    @Test("a string with invalid UTF-8 is rejected, naming the field and offset")
    func invalidUTF8() throws {
        let error = try #require(decodingError(WireV1.Frame.self, openFrame(method: Array("/a".utf8) + [0xC3, 0x28])))
        #expect(error.code == .invalidString)
        #expect(error.messageType == "trellis.wire.v1.Frame")
        #expect(error.reason == "field open (2): field method (1): invalid UTF-8 at offset 8")
        #expect(error.description.hasPrefix("wire: cannot decode trellis.wire.v1.Frame: "))
    }

    @Test(
        "overlong forms, surrogates, code points past U+10FFFF and truncated sequences are rejected",
        arguments: [
            [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xFF],
        ]
    )
    func invalidSequences(sequence: [UInt8]) throws {
        let error = try #require(decodingError(TrellisV1.HealthCheckRequest.self, lengthDelimited(field: 1, sequence)))
        #expect(error.code == .invalidString)
        #expect(error.reason == "field service (1): invalid UTF-8 at offset 2")
    }

    @Test("a string with an embedded NUL is rejected on decode")
    func nulOnDecode() throws {
        let error = try #require(decodingError(WireV1.Frame.self, openFrame(method: Array("abcdefghij\0k".utf8))))
        #expect(error.code == .invalidString)
        #expect(error.reason == "field open (2): field method (1): NUL character at offset 16")
    }

    @Test("a string with an embedded NUL is rejected on encode")
    func nulOnEncode() throws {
        let frame = WireV1.Frame(kind: .open(.init(method: "/a\0b")))
        #expect {
            try frame.encoded()
        } throws: { error in
            let error = try #require(error as? WireEncodingError)
            return error.messageType == "trellis.wire.v1.Open"
                && error.reason == "field method (1): string contains NUL at offset 2"
        }
    }

    @Test("every truncation of a valid frame fails cleanly or decodes a prefix")
    func truncated() throws {
        let frame = WireV1.Frame(
            streamId: 300,
            kind: .open(.init(method: "/m", metadata: [.init(key: "k", value: "v")], timeoutMs: 1 << 40))
        )
        let full = try frame.encoded()
        for cut in 1..<full.count {
            let prefix = Array(full[..<cut])
            if let error = decodingError(WireV1.Frame.self, prefix) {
                #expect(error.code == .malformed)
            }
        }
        #expect(
            decodingError(WireV1.Frame.self, [0x08, 0x80])?.reason
                == "field stream_id (1): malformed varint at offset 1")
        #expect(
            decodingError(WireV1.Frame.self, [0x12, 0x05, 0x0a])?.reason
                == "field open (2): length 5 at offset 1 exceeds the 1 bytes left"
        )
    }

    @Test("100,000 levels of nested field 2 inside a Frame are rejected without a crash")
    func deeplyNested() throws {
        var body: [UInt8] = []
        for _ in 0..<100_000 {
            body = lengthDelimited(field: 2, body)
        }
        let error = try #require(decodingError(WireV1.Frame.self, body))
        #expect([.tooDeep, .malformed, .invalidString].contains(error.code))
    }

    @Test("nesting beyond the limit is rejected as too deep")
    func nestingLimit() throws {
        // Frame > Open > MetadataEntry is three levels deep.
        let bytes = lengthDelimited(field: 2, lengthDelimited(field: 2, lengthDelimited(field: 1, Array("k".utf8))))
        try bytes.withUnsafeBytes { raw in
            try WireValidator.validate(raw, schema: WireV1.Frame._wireSchema, maxNestingDepth: 3)
            #expect {
                try WireValidator.validate(raw, schema: WireV1.Frame._wireSchema, maxNestingDepth: 2)
            } throws: { error in
                (error as? WireDecodingError)?.code == .tooDeep
            }
        }
    }

    @Test("unknown fields of every wire type are skipped")
    func unknownFields() throws {
        let known = try WireV1.Frame(streamId: 4, kind: .ping(.init(payload: 9))).encoded()
        let unknown: [UInt8] =
            varint(99 << 3 | 0) + varint(12345)  // varint
            + varint(100 << 3 | 1) + [1, 2, 3, 4, 5, 6, 7, 8]  // 64-bit
            + lengthDelimited(field: 101, [0xFF, 0x00, 0xC3])  // bytes that are no string
            + varint(102 << 3 | 5) + [1, 2, 3, 4]  // 32-bit
        let frame = try WireV1.Frame(decoding: unknown + known + unknown)
        #expect(frame == WireV1.Frame(streamId: 4, kind: .ping(.init(payload: 9))))
    }

    @Test("groups, field number 0 and mismatched wire types are malformed")
    func malformedTags() {
        #expect(decodingError(WireV1.Frame.self, varint(99 << 3 | 3))?.code == .malformed)
        #expect(decodingError(WireV1.Frame.self, [0x00, 0x01])?.reason == "field number 0 at offset 0")
        #expect(
            decodingError(WireV1.Frame.self, [0x10, 0x01])?.reason
                == "field open (2): wire type 0 at offset 0, expected length-delimited (2)"
        )
        #expect(
            decodingError(WireV1.Frame.self, varint(20 << 3 | 6))?.reason == "field 20: invalid wire type 6 at offset 0"
        )
        #expect(
            decodingError(WireV1.Frame.self, [0x0f])?.reason == "field stream_id (1): invalid wire type 7 at offset 0")
    }

    @Test("an enum number the schema does not know is kept as unrecognized and re-encoded")
    func unknownEnum() throws {
        let response = try TrellisV1.HealthCheckResponse(decoding: [0x08, 0x07])
        #expect(response.status == .unrecognized(7))
        #expect(response.status.description == "ServingStatus(7)")
        #expect(try response.encoded() == [0x08, 0x07])
        #expect(TrellisV1.ServingStatus.unrecognized(1) == .serving)
    }
}
