import Testing
import TrellisWire

@testable import TrellisRPC

/// A reader or writer may be suspended between looking at a stream and parking on it
/// (an executor switch on the way into the continuation), so parking looks again.
@Suite("Parking on a stream", .timeLimit(.minutes(1)))
struct StreamStateTests {
    @Test("a reader that parks after a message was queued gets it at once, with its credit")
    func readerParksAfterDelivery() async throws {
        let stream = StreamState(id: 1, initialWindow: 8)
        _ = stream.deliver([1, 2, 3, 4])
        var credit: UInt32?
        let bytes = try await withCheckedThrowingContinuation { continuation in
            credit = stream.waitForInbound(continuation)
        }
        #expect(bytes == [1, 2, 3, 4])
        #expect(credit == 4)
    }

    @Test("a reader that parks after the peer finished gets the end at once")
    func readerParksAfterFinish() async throws {
        let stream = StreamState(id: 1, initialWindow: 8)
        stream.finishInbound()
        let bytes = try await withCheckedThrowingContinuation { continuation in
            _ = stream.waitForInbound(continuation)
        }
        #expect(bytes == nil)
    }

    @Test("a reader that parks after the stream ended gets its error at once")
    func readerParksAfterTermination() async throws {
        let stream = StreamState(id: 1, initialWindow: 8)
        stream.terminate(RPCError(.cancelled, "test: ended"))
        await #expect(throws: RPCError.self) {
            _ = try await withCheckedThrowingContinuation { continuation in
                _ = stream.waitForInbound(continuation)
            }
        }
    }

    @Test("a writer that parks when it need not wait resumes at once")
    func writerParksWhenReady() async throws {
        let stream = StreamState(id: 1, initialWindow: 8)
        try await withCheckedThrowingContinuation { continuation in
            stream.waitToSend(continuation, ready: stream.canSend)
        }
        stream.charge(8)
        stream.terminate(RPCError(.cancelled, "test: ended"))
        try await withCheckedThrowingContinuation { continuation in
            stream.waitToSend(continuation, ready: stream.canSend)
        }
        #expect(!stream.canSend)
    }
}
