import Testing
import TrellisAPI
import TrellisWire

/// Encodings produced by Google's Python protobuf runtime 4.21.12 from the same .proto
/// files, printed by `scripts/codegen/test-vectors.py`. The Swift encoders must produce
/// the same bytes, and decode them to the same values.
@Suite("Encodings match Google's protobuf runtime")
struct ProtocVectorTests {
    static let vectors: [String: String] = [
        "open":
            "080112580a1f2f7472656c6c69732e76312e4865616c7468536572766963652f436865636b121d0a0d617574686f72697a"
            + "6174696f6e120c4265617265722074306b656e12120a0a726571756573742d69641204722d343218b0ea01",
        "message": "08031a060a04000102ff",
        "halfClose": "08032200",
        "close":
            "08052a6d08051223656e7669726f6e6d656e7420e2809c73746167696e67e2809d206e6f7420666f756e641a440a094e4f"
            + "545f464f554e44120d6d657461646174612e6e616d651a136e6f207375636820656e7669726f6e6d656e7422130a08656e"
            + "762e6e616d65120773746167696e67",
        "goAway": "521708ffffffff0f100e1a0d7368757474696e6720646f776e",
        "ping": "420b08ffffffffffffffffff01",
        "healthResponse": "0802",
        "scalars":
            "08ffffffffffffffffff01108080808080808080800118ffffffff0f200128ffffffff0f30053d07000000410800000000"
            + "0000004df7ffffff51f6ffffffffffffff5d0000c03f6100000000000002c06801720b68c3a96c6c6f20f09f8c8d7a0200"
            + "018001028a010308ac02",
        "collections":
            "0a0d01ffffffffffffffffff01ac0212016112001202c3bc1a001a01ff22020100320201003a08000000000000e03f6a05"
            + "6f6e656f66",
    ]

    static let frames: [(String, WireV1.Frame)] = [
        (
            "open",
            .init(
                streamId: 1,
                kind: .open(
                    .init(
                        method: "/trellis.v1.HealthService/Check",
                        metadata: [
                            .init(key: "authorization", value: "Bearer t0ken"), .init(key: "request-id", value: "r-42"),
                        ],
                        timeoutMs: 30_000
                    )
                )
            )
        ),
        ("message", .init(streamId: 3, kind: .message(.init(data: [0, 1, 2, 0xFF])))),
        ("halfClose", .init(streamId: 3, kind: .halfClose(.init()))),
        (
            "close",
            .init(
                streamId: 5,
                kind: .close(
                    .init(
                        code: 5,
                        message: "environment “staging” not found",
                        details: [
                            .init(
                                reason: "NOT_FOUND", subject: "metadata.name", description: "no such environment",
                                metadata: [.init(key: "env.name", value: "staging")]
                            )
                        ]
                    )
                )
            )
        ),
        ("goAway", .init(kind: .goAway(.init(lastStreamId: .max, code: 14, message: "shutting down")))),
        ("ping", .init(kind: .ping(.init(payload: .max)))),
    ]

    @Test("frames encode to the reference bytes and decode back", arguments: frames)
    func frame(name: String, frame: WireV1.Frame) throws {
        let expected = bytes(hex: try #require(Self.vectors[name]))
        #expect(hex(try frame.encoded()) == hex(expected))
        #expect(try WireV1.Frame(decoding: expected) == frame)
    }

    @Test("an enum field encodes as its number")
    func enumField() throws {
        let response = TrellisV1.HealthCheckResponse(status: .notServing)
        #expect(hex(try response.encoded()) == Self.vectors["healthResponse"])
    }

    @Test("every scalar type encodes as protobuf does")
    func scalars() throws {
        let message = TestingV1.Scalars(
            i32: -1, i64: .min, u32: .max, u64: 1, s32: .min, s64: -3, f32: 7, f64: 8, sf32: -9, sf64: -10,
            flt: 1.5, dbl: -2.25, flag: true, text: "héllo 🌍", blob: [0, 1], color: .green, ping: .init(payload: 300)
        )
        #expect(hex(try message.encoded()) == Self.vectors["scalars"])
        #expect(try TestingV1.Scalars(decoding: bytes(hex: Self.vectors["scalars"]!)) == message)
    }

    @Test("repeated scalars are packed and repeated strings and bytes are not")
    func collections() throws {
        let message = TestingV1.Collections(
            ints: [1, -1, 300], names: ["a", "", "ü"], blobs: [[], [0xFF]], colors: [.red, .unspecified],
            flags: [true, false], doubles: [0.5], choice: .word("oneof")
        )
        #expect(hex(try message.encoded()) == Self.vectors["collections"])
        #expect(try TestingV1.Collections(decoding: bytes(hex: Self.vectors["collections"]!)) == message)
    }
}
