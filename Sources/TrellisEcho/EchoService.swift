import TrellisAPI
import TrellisRPC
import TrellisWire

/// `trellis.echo.v1.EchoService`: one method of every call shape, for tests, benchmarks
/// and client authors. The coordinator serves it only when asked (`--enable-echo`).
public enum EchoService {
    /// The largest `count × response_size` an Expand call may ask for.
    public static let maxExpandBytes = 1 << 30

    /// Adds the service's methods to `router`.
    public static func register(into router: inout RPCRouter) {
        router.register(EchoV1.EchoService.echo) { request, _ in
            try await delay(request.delayMs)
            return EchoV1.EchoResponse(payload: request.payload)
        }
        router.register(EchoV1.EchoService.expand) { request, writer, _ in
            let total = Int(request.count) * Int(request.responseSize)
            guard total <= maxExpandBytes else {
                throw RPCError(.invalidArgument, "echo: expand of \(total) bytes exceeds \(maxExpandBytes)")
            }
            try await delay(request.delayMs)
            let payload = [UInt8](repeating: 0x61, count: Int(request.responseSize))
            for index in 0..<request.count {
                try await writer.write(EchoV1.EchoResponse(payload: payload, sequence: index))
            }
        }
        router.register(EchoV1.EchoService.collect) { requests, _ in
            var payload: [UInt8] = []
            var count: UInt32 = 0
            for try await request in requests {
                payload.append(contentsOf: request.payload)
                count += 1
            }
            return EchoV1.EchoResponse(payload: payload, sequence: count)
        }
        router.register(EchoV1.EchoService.chat) { requests, writer, _ in
            var index: UInt32 = 0
            for try await request in requests {
                try await delay(request.delayMs)
                try await writer.write(EchoV1.EchoResponse(payload: request.payload, sequence: index))
                index += 1
            }
        }
    }

    private static func delay(_ milliseconds: UInt64) async throws {
        guard milliseconds > 0 else { return }
        try await Task.sleep(for: .milliseconds(Int64(clamping: milliseconds)))
    }
}
