import Testing
import TrellisAPI
import TrellisLogging
import TrellisRPC
import TrellisTestSupport

/// Callers that prefer the client's event loop as their executor, as a benchmark or a
/// latency-sensitive agent would, share the loop's thread with the connection.
@Suite("Calls from tasks on the client's event loop")
struct LoopCallerTests {
    @Test("a long stream of small messages read on the client's loop runs to its end")
    func longStreamOnLoop() async throws {
        // Regression: a reader that found its queue empty and was suspended before parking
        // (an executor switch) could miss the frames that arrived meanwhile, and wait
        // forever beside a full queue while the server waited for credit.
        let server = try await TestRPCServer.start()
        let group = try EventLoopGroup(loopCount: 1, namePrefix: "test-client")
        let client = try RPCClient(
            configuration: server.clientConfiguration(), group: group,
            logger: Logger(label: "test.client", sink: TestLogSink.shared))
        let count = 10_000
        for _ in 0..<2 {
            let received = try await withTaskExecutorPreference(group.loops[0].taskExecutor) {
                try await client.serverStreaming(
                    EchoV1.EchoService.expand, EchoV1.EchoRequest(count: UInt32(count), responseSize: 64),
                    options: CallOptions(timeout: .seconds(60))
                ) { responses in
                    var received = 0
                    for try await response in responses {
                        #expect(response.sequence == UInt32(received))
                        received += 1
                    }
                    return received
                }
            }
            #expect(received == count)
        }
        await client.close()
        await group.shutdown()
        await server.stop()
    }

    @Test("unary calls from many tasks on the client's loop all complete")
    func concurrentUnaryOnLoop() async throws {
        let server = try await TestRPCServer.start()
        let group = try EventLoopGroup(loopCount: 1, namePrefix: "test-client")
        let client = try RPCClient(
            configuration: server.clientConfiguration(), group: group,
            logger: Logger(label: "test.client", sink: TestLogSink.shared))
        let total = try await withTaskExecutorPreference(group.loops[0].taskExecutor) {
            try await withThrowingTaskGroup(of: Int.self) { tasks in
                for task in 0..<32 {
                    tasks.addTask {
                        for call in 0..<50 {
                            let payload = [UInt8(task), UInt8(call)]
                            let response = try await client.unary(
                                EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: payload),
                                options: CallOptions(timeout: .seconds(60)))
                            #expect(response.payload == payload)
                        }
                        return 50
                    }
                }
                return try await tasks.reduce(0, +)
            }
        }
        #expect(total == 32 * 50)
        await client.close()
        await group.shutdown()
        await server.stop()
    }
}
