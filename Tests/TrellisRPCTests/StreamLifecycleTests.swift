import Testing
import TrellisAPI
import TrellisRPC
import TrellisTestSupport
import TrellisWire

private let barrier = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
    service: "test.Lifecycle", method: "Barrier", kind: .unary)
private let hang = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
    service: "test.Lifecycle", method: "Hang", kind: .serverStreaming)
private let flood = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
    service: "test.Lifecycle", method: "Flood", kind: .serverStreaming)
private let burstThenFail = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
    service: "test.Lifecycle", method: "BurstThenFail", kind: .serverStreaming)

/// Handlers that report what happened to them through a probe.
private func lifecycleHandlers(_ probe: Probe) -> (inout RPCRouter) -> Void {
    { router in
        // Answers only once `count` calls are waiting at once: proves they are concurrent.
        router.register(
            barrier,
            unary: { request, _ in
                probe.add("open")
                probe.raise("peak", to: probe["open"])
                let ready = await eventually(timeout: .seconds(60), poll: .milliseconds(5)) {
                    probe["peak"] >= Int(request.count)
                }
                probe.add("open", -1)
                guard ready else { throw RPCError(.deadlineExceeded, "test: barrier not reached") }
                return EchoV1.EchoResponse(payload: request.payload)
            })
        // Sends one response, then waits until cancelled.
        router.register(
            hang,
            serverStreaming: { _, writer, _ in
                probe.add("started")
                do {
                    try await writer.write(EchoV1.EchoResponse(sequence: 0))
                    while true { try await Task.sleep(for: .milliseconds(10)) }
                } catch {
                    probe.add("cancelled")
                    throw error
                }
            })
        // Writes 1 KiB responses as fast as the client lets it.
        router.register(
            burstThenFail,
            serverStreaming: { request, writer, _ in
                for index in 0..<request.count {
                    try await writer.write(EchoV1.EchoResponse(payload: [7], sequence: index))
                }
                probe.add("burst done")
                throw RPCError(.aborted, "test: failed after the burst")
            })
        router.register(
            flood,
            serverStreaming: { _, writer, _ in
                let payload = [UInt8](repeating: 7, count: 1024)
                var index: UInt32 = 0
                while true {
                    try await writer.write(EchoV1.EchoResponse(payload: payload, sequence: index))
                    index += 1
                    probe.set("written", Int(index))
                }
            })
    }
}

@Suite("Concurrency, deadlines, cancellation and flow control")
struct StreamLifecycleTests {
    @Test("1,000 calls run concurrently on one connection")
    func thousandConcurrentStreams() async throws {
        let probe = Probe()
        let server = try await TestRPCServer.start(configure: lifecycleHandlers(probe))
        let client = try server.makeClient()
        try await client.connect(timeout: .seconds(10))
        let results = try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for index in 0..<1000 {
                group.addTask {
                    let payload = [UInt8(index % 256), UInt8(index / 256)]
                    let response = try await client.unary(barrier, EchoV1.EchoRequest(payload: payload, count: 1000))
                    #expect(response.payload == payload)
                    return response.payload
                }
            }
            var all: [[UInt8]] = []
            for try await payload in group { all.append(payload) }
            return all
        }
        #expect(results.count == 1000)
        #expect(probe["peak"] == 1000)
        #expect(server.server.connectionCount == 1)
        await client.close()
        await server.stop()
    }

    @Test("a deadline ends the call with DEADLINE_EXCEEDED and cancels the handler")
    func deadlinePropagates() async throws {
        let probe = Probe()
        let server = try await TestRPCServer.start(configure: lifecycleHandlers(probe))
        let client = try server.makeClient()
        let started = ContinuousClock.now
        let error = try await #require(throws: RPCError.self) {
            try await client.serverStreaming(
                hang, EchoV1.EchoRequest(), options: CallOptions(timeout: .seconds(3))
            ) {
                responses in
                for try await _ in responses {}
            }
        }
        #expect(error.code == .deadlineExceeded)
        // Without the deadline the call would never end; the bound is generous because a
        // machine running every test at once has delayed tests by thirty seconds.
        #expect(ContinuousClock.now - started < .seconds(120))
        // On a loaded machine the deadline may pass before the handler ever runs; a
        // handler that did run must have been cancelled.
        #expect(await eventually { probe["cancelled"] == probe["started"] })
        #expect(probe["started"] <= 1)
        await client.close()
        await server.stop()
    }

    @Test("a deadline on the server alone still cancels the handler")
    func serverEnforcesDeadline() async throws {
        let server = try await TestRPCServer.start()
        let client = try server.makeClient()
        // The echo handler sleeps 5 s; the server must give up after 200 ms.
        let error = try await #require(throws: RPCError.self) {
            _ = try await client.unary(
                EchoV1.EchoService.echo, EchoV1.EchoRequest(delayMs: 5000),
                options: CallOptions(timeout: .milliseconds(200)))
        }
        #expect(error.code == .deadlineExceeded)
        await client.close()
        await server.stop()
    }

    @Test("leaving a response stream early cancels the call on the server")
    func clientCancellation() async throws {
        let probe = Probe()
        let server = try await TestRPCServer.start(configure: lifecycleHandlers(probe))
        let client = try server.makeClient()
        let first = try await client.serverStreaming(hang, EchoV1.EchoRequest()) { responses in
            for try await response in responses { return response.sequence }
            return UInt32.max
        }
        #expect(first == 0)
        #expect(await eventually { probe["cancelled"] == 1 })
        // The connection goes on serving.
        let response = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [5]))
        #expect(response.payload == [5])
        await client.close()
        await server.stop()
    }

    @Test("cancelling the caller's task cancels the call on the server")
    func taskCancellation() async throws {
        let probe = Probe()
        let server = try await TestRPCServer.start(configure: lifecycleHandlers(probe))
        let client = try server.makeClient()
        let task = Task {
            try await client.serverStreaming(hang, EchoV1.EchoRequest()) { responses in
                for try await _ in responses {}
            }
        }
        #expect(await eventually { probe["started"] == 1 })
        task.cancel()
        let outcome = await task.result
        guard case .failure(let error) = outcome else {
            Issue.record("the cancelled call returned normally")
            return
        }
        #expect((error as? RPCError)?.code == .cancelled)
        #expect(await eventually { probe["cancelled"] == 1 })
        await client.close()
        await server.stop()
    }

    @Test("responses that arrived while the reader was away come in order, then the error that followed them")
    func backlogThenError() async throws {
        let probe = Probe()
        let server = try await TestRPCServer.start(configure: lifecycleHandlers(probe))
        let client = try server.makeClient()
        var sequences: [UInt32] = []
        let error = await #expect(throws: RPCError.self) {
            try await client.serverStreaming(burstThenFail, EchoV1.EchoRequest(count: 200)) { responses in
                var iterator = responses.makeAsyncIterator()
                if let first = try await iterator.next() { sequences.append(first.sequence) }
                // The server has written the other 199 and failed before the reader goes on.
                #expect(await eventually { probe["burst done"] == 1 })
                while let response = try await iterator.next() { sequences.append(response.sequence) }
            }
        }
        #expect(sequences == Array(0..<200))
        #expect(error?.code == .aborted)
        await client.close()
        await server.stop()
    }

    @Test("a consumer that stops reading stops the producer at the flow-control window")
    func flowControlBoundsBuffering() async throws {
        let probe = Probe()
        let server = try await TestRPCServer.start(configure: lifecycleHandlers(probe))
        let client = try server.makeClient()
        try await client.serverStreaming(flood, EchoV1.EchoRequest()) { responses in
            var iterator = responses.makeAsyncIterator()
            _ = try await iterator.next()
            // The window is 64 KiB of 1 KiB messages: the handler gets about 64 out and
            // then must wait for credit that never comes.
            #expect(await eventually { probe["written"] >= 60 })
            try await Task.sleep(for: .milliseconds(300))
            let plateau = probe["written"]
            #expect(plateau <= 66)
            try await Task.sleep(for: .milliseconds(300))
            #expect(probe["written"] == plateau)

            // Reading again releases credit and the producer moves on.
            for _ in 0..<200 { _ = try await iterator.next() }
            #expect(probe["written"] > plateau + 100)
        }
        await client.close()
        await server.stop()
    }
}
