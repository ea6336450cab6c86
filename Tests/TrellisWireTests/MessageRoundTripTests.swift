import Testing
import TrellisAPI
import TrellisWire

@Suite("Generated messages round-trip through protobuf-c")
struct MessageRoundTripTests {
    static let frames: [WireV1.Frame] = [
        .init(
            streamId: 1,
            kind: .open(
                .init(
                    method: "/trellis.v1.HealthService/Check",
                    metadata: [.init(key: "authorization", value: "Bearer abc"), .init(key: "k", value: "")],
                    timeoutMs: 30_000
                )
            )
        ),
        .init(streamId: 3, kind: .message(.init(data: [0, 1, 2, 255]))),
        .init(streamId: 3, kind: .message(.init(data: []))),
        .init(streamId: 3, kind: .halfClose(.init())),
        .init(
            streamId: 5,
            kind: .close(
                .init(
                    code: 3,
                    message: "invalid spec",
                    details: [
                        .init(
                            reason: "CYCLE",
                            subject: "spec.resources.api",
                            description: "api -> db -> api",
                            metadata: [.init(key: "resource.id", value: "api")]
                        )
                    ]
                )
            )
        ),
        .init(streamId: 7, kind: .cancel(.init())),
        .init(streamId: 9, kind: .credit(.init(bytes: 65_536))),
        .init(streamId: 0, kind: .ping(.init(payload: .max))),
        .init(streamId: 0, kind: .pong(.init(payload: 42))),
        .init(streamId: 0, kind: .goAway(.init(lastStreamId: 11, code: 14, message: "draining"))),
    ]

    @Test("every frame kind decodes to the frame that was encoded", arguments: frames)
    func frameKinds(frame: WireV1.Frame) throws {
        #expect(try roundTrip(frame) == frame)
    }

    @Test("a frame with every field at its default encodes to no bytes")
    func defaults() throws {
        #expect(try WireV1.Frame().encoded() == [])
        #expect(try WireV1.Frame(decoding: []) == WireV1.Frame())
        let open = try #require(try roundTrip(WireV1.Frame(kind: .open(.init()))).kind)
        #expect(open == .open(WireV1.Open(method: "", metadata: [], timeoutMs: 0)))
    }

    @Test("health messages keep every field and value")
    func health() throws {
        for service in ["", "trellis.v1.EnvironmentService", "ümlaut ✓ 🚀"] {
            let request = TrellisV1.HealthCheckRequest(service: service)
            #expect(try roundTrip(request) == request)
        }
        for status in [TrellisV1.ServingStatus.unknown, .serving, .notServing, .unrecognized(99)] {
            let response = TrellisV1.HealthCheckResponse(status: status)
            #expect(try roundTrip(response).status == status)
        }
    }

    @Test("service descriptors name the method and its call shape")
    func services() {
        #expect(TrellisV1.HealthService.check.path == "/trellis.v1.HealthService/Check")
        #expect(TrellisV1.HealthService.check.kind == .unary)
        #expect(TrellisV1.HealthService.watch.kind == .serverStreaming)
    }

    @Test("unicode strings survive exactly, including astral-plane characters")
    func unicode() throws {
        let text = "héllo wörld — 日本語 🌍🏳️‍🌈 \u{10FFFF}"
        let frame = WireV1.Frame(kind: .close(.init(message: text)))
        #expect(try roundTrip(frame) == frame)
    }

    @Test("every scalar type keeps its extremes")
    func scalars() throws {
        let extremes = TestingV1.Scalars(
            i32: .min, i64: .min, u32: .max, u64: .max, s32: .min, s64: .max, f32: .max, f64: .max,
            sf32: .min, sf64: .min, flt: -.greatestFiniteMagnitude, dbl: .leastNonzeroMagnitude,
            flag: true, text: "t", blob: [0, 0, 0], color: .green, ping: .init(payload: 1)
        )
        #expect(try roundTrip(extremes) == extremes)
        #expect(try roundTrip(TestingV1.Scalars()) == TestingV1.Scalars())
        let unknownColor = TestingV1.Scalars(color: .unrecognized(-5))
        #expect(try roundTrip(unknownColor).color == .unrecognized(-5))
    }

    @Test("repeated fields, maps, nested messages and oneofs keep their contents")
    func collections() throws {
        let inner = TestingV1.Collections.Inner(name: "n", nested: .init(depth: 3, shade: .dark))
        var message = TestingV1.Collections(
            ints: [1, -1, .max, .min], names: ["a", "", "ü"], blobs: [[], [1, 2]],
            colors: [.red, .unrecognized(7), .unspecified], items: [.init(i32: 1), .init(text: "x")],
            flags: [true, false, true], doubles: [0.5, -0.0],
            labels: ["env.name": "staging", "": "empty key"],
            byId: [1: .init(text: "one"), -2: .init(), 3: .init(ping: .init(payload: 3))],
            byFlag: [true: .green, false: .unrecognized(12)],
            blobsById: [0: [], .max: [9]],
            inner: inner, choice: .innerChoice(inner), default: "keyword"
        )
        #expect(try roundTrip(message) == message)

        for choice: TestingV1.Collections.Choice in [.word(""), .number(-1), .raw([]), .hue(.unspecified)] {
            message.choice = choice
            #expect(try roundTrip(message).choice == choice)
        }
        message.choice = nil
        #expect(try roundTrip(message).choice == nil)
    }

    @Test("equal maps encode to equal bytes, whatever their insertion order")
    func mapOrder() throws {
        var forward: [String: String] = [:]
        var backward: [String: String] = [:]
        for i in 0..<50 { forward["key\(i)"] = "\(i)" }
        for i in (0..<50).reversed() { backward["key\(i)"] = "\(i)" }
        #expect(
            try TestingV1.Collections(labels: forward).encoded() == TestingV1.Collections(labels: backward).encoded()
        )
    }

    @Test("a message larger than the stack arena encodes through heap chunks")
    func largeMessage() throws {
        let metadata = (0..<500).map {
            WireV1.MetadataEntry(key: "key-\($0)", value: String(repeating: "v", count: $0))
        }
        let frame = WireV1.Frame(streamId: 1, kind: .open(.init(method: "/a/b", metadata: metadata)))
        #expect(try roundTrip(frame) == frame)
        let payload = WireV1.Frame(kind: .message(.init(data: [UInt8](repeating: 7, count: 1 << 20))))
        #expect(try roundTrip(payload) == payload)
    }

    @Test("encoding appends to what the buffer already holds")
    func appends() throws {
        var buffer: [UInt8] = [0xAA]
        try WireV1.Ping(payload: 1).encode(appendingTo: &buffer)
        #expect(buffer == [0xAA, 0x08, 0x01])
    }
}
