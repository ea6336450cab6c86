import Testing
import TrellisAPI
import TrellisRPC
import TrellisTestSupport
import TrellisWire

@Suite("Calls of every shape over TLS")
struct CallShapeTests {
    @Test("a unary call returns the response")
    func unary() async throws {
        let server = try await TestRPCServer.start()
        let client = try server.makeClient()
        let response = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [1, 2, 3]))
        #expect(response.payload == [1, 2, 3])
        await client.close()
        await server.stop()
    }

    @Test("a server-streaming call delivers every response in order")
    func serverStreaming() async throws {
        let server = try await TestRPCServer.start()
        let client = try server.makeClient()
        let sequences = try await client.serverStreaming(
            EchoV1.EchoService.expand, EchoV1.EchoRequest(count: 1000, responseSize: 1024)
        ) { responses in
            var sequences: [UInt32] = []
            for try await response in responses {
                #expect(response.payload.count == 1024)
                sequences.append(response.sequence)
            }
            return sequences
        }
        #expect(sequences == Array(0..<1000))
        await client.close()
        await server.stop()
    }

    @Test("a client-streaming call sees every request before answering")
    func clientStreaming() async throws {
        let server = try await TestRPCServer.start()
        let client = try server.makeClient()
        let response = try await client.clientStreaming(EchoV1.EchoService.collect) { requests in
            for byte in UInt8(0)..<200 {
                try await requests.write(EchoV1.EchoRequest(payload: [UInt8](repeating: byte, count: 1000)))
            }
        }
        #expect(response.sequence == 200)
        #expect(response.payload.count == 200_000)
        #expect(response.payload[199_999] == 199)
        await client.close()
        await server.stop()
    }

    @Test("a bidirectional call answers each request as it arrives")
    func bidirectional() async throws {
        let server = try await TestRPCServer.start()
        let client = try server.makeClient()
        let echoed = try await client.bidirectional(EchoV1.EchoService.chat) { requests, responses in
            var echoed: [[UInt8]] = []
            var iterator = responses.makeAsyncIterator()
            for index in UInt8(0)..<50 {
                try await requests.write(EchoV1.EchoRequest(payload: [index]))
                // The answer arrives before the next request is written: the streams
                // really interleave.
                let response = try #require(try await iterator.next())
                echoed.append(response.payload)
            }
            await requests.finish()
            #expect(try await iterator.next() == nil)
            return echoed
        }
        #expect(echoed == (0..<50).map { [UInt8($0)] })
        await client.close()
        await server.stop()
    }

    @Test("an unknown method ends with UNIMPLEMENTED")
    func unknownMethod() async throws {
        let server = try await TestRPCServer.start()
        let client = try server.makeClient()
        let missing = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
            service: "trellis.echo.v1.EchoService", method: "Missing", kind: .unary)
        let error = try await #require(throws: RPCError.self) {
            _ = try await client.unary(missing, EchoV1.EchoRequest())
        }
        #expect(error.code == .unimplemented)
        #expect(error.message.contains("/trellis.echo.v1.EchoService/Missing"))
        // The connection still serves calls.
        let response = try await client.unary(EchoV1.EchoService.echo, EchoV1.EchoRequest(payload: [9]))
        #expect(response.payload == [9])
        await client.close()
        await server.stop()
    }

    @Test("a handler's RPCError reaches the client with its code, message and details")
    func handlerError() async throws {
        let method = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
            service: "test.Errors", method: "Fail", kind: .unary)
        let server = try await TestRPCServer.start { router in
            router.register(
                method,
                unary: { _, _ in
                    throw RPCError(
                        .failedPrecondition, "test: not now",
                        details: [RPCError.detail(reason: "CYCLE", subject: "spec.resources.a", description: "a -> a")])
                })
        }
        let client = try server.makeClient()
        let error = try await #require(throws: RPCError.self) {
            _ = try await client.unary(method, EchoV1.EchoRequest())
        }
        #expect(error.code == .failedPrecondition)
        #expect(error.message == "test: not now")
        #expect(error.details.map(\.reason) == ["CYCLE"])
        #expect(error.details.first?.subject == "spec.resources.a")
        await client.close()
        await server.stop()
    }

    @Test("an error that is not an RPCError reaches the client as INTERNAL without its text")
    func internalErrorsDoNotLeak() async throws {
        struct Secret: Error, CustomStringConvertible { var description: String { "password=hunter2" } }
        let method = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
            service: "test.Errors", method: "Leak", kind: .unary)
        let server = try await TestRPCServer.start { router in
            router.register(method, unary: { _, _ in throw Secret() })
        }
        let client = try server.makeClient()
        let error = try await #require(throws: RPCError.self) {
            _ = try await client.unary(method, EchoV1.EchoRequest())
        }
        #expect(error.code == .internal)
        #expect(!error.message.contains("hunter2"))
        await client.close()
        await server.stop()
    }

    @Test("metadata and the peer reach the handler")
    func contextReachesHandler() async throws {
        let method = MethodDescriptor<EchoV1.EchoRequest, EchoV1.EchoResponse>(
            service: "test.Context", method: "Whoami", kind: .unary)
        let server = try await TestRPCServer.start { router in
            router.register(
                method,
                unary: { _, context in
                    let text =
                        "\(context.bearerToken ?? "-")|\(context.requestID)|\(context.peer.address.hasPrefix("127.0.0.1:"))"
                    return EchoV1.EchoResponse(payload: Array(text.utf8))
                })
        }
        var configuration = server.clientConfiguration()
        configuration.setBearerToken("t0ken")
        let client = try RPCClient(configuration: configuration)
        let response = try await client.unary(
            method, EchoV1.EchoRequest(), options: CallOptions(metadata: ["request-id": "req-42"]))
        #expect(String(decoding: response.payload, as: UTF8.self) == "t0ken|req-42|true")
        await client.close()
        await server.stop()
    }
}
