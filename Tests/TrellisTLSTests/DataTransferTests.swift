import Glibc
import Testing
import TrellisTLS
import TrellisTestSupport

@Suite("Data over established connections")
struct DataTransferTests {
    @Test("a 1 MiB write arrives intact through partial writes, and a reply comes back")
    func largeWriteAndReply() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        // Small kernel buffers make the socket fill long before 1 MiB is written.
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(), client: pki.clientConfiguration(identity: pki.client),
            bufferSize: 16 * 1024)
        try #require(pair.handshake().server == .complete)

        let payload = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        var sent = 0
        var partialWrites = 0
        var wouldBlock = 0
        var received: [UInt8] = []
        received.reserveCapacity(payload.count)
        var readBuffer = [UInt8](repeating: 0, count: 64 * 1024)
        var failure: TLSError? = nil

        drive(
            pair.sockets.client,
            {
                while sent < payload.count {
                    let result = payload.withUnsafeBytes {
                        pair.client.write(UnsafeRawBufferPointer(rebasing: $0[sent...]))
                    }
                    switch result {
                    case .wrote(let count):
                        if count < payload.count - sent { partialWrites += 1 }
                        sent += count
                    case .wantWrite:
                        wouldBlock += 1
                        return .wantWrite
                    case .wantRead:
                        return .wantRead
                    case .failed(let error):
                        failure = error
                        return .failed
                    }
                }
                return .done
            },
            pair.sockets.server,
            {
                while true {
                    let result = readBuffer.withUnsafeMutableBytes { pair.server.read(into: $0) }
                    switch result {
                    case .bytes(let count):
                        received.append(contentsOf: readBuffer[..<count])
                        if received.count == payload.count { return .done }
                    case .wantRead: return .wantRead
                    case .wantWrite: return .wantWrite
                    case .closed: return .failed
                    case .failed(let error):
                        failure = error
                        return .failed
                    }
                }
            })

        #expect(failure == nil)
        #expect(sent == payload.count)
        #expect(partialWrites > 0)
        #expect(wouldBlock > 0)
        #expect(received == payload)

        let reply = Array("accepted".utf8)
        let wrote = reply.withUnsafeBytes { pair.server.write($0) }
        #expect(wrote == .wrote(reply.count))
        #expect(readAll(&pair.client, from: pair.sockets.client, count: reply.count) == reply)
    }

    @Test("separately written records read back in order, and a short read leaves the rest pending")
    func severalRecordsPerRead() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(), client: pki.clientConfiguration(identity: pki.client))
        try #require(pair.handshake().server == .complete)

        for word in ["one", "two", "three"] {
            let bytes = Array(word.utf8)
            #expect(bytes.withUnsafeBytes { pair.client.write($0) } == .wrote(bytes.count))
        }
        #expect(readAll(&pair.server, from: pair.sockets.server, count: 11) == Array("onetwothree".utf8))

        let long = [UInt8](repeating: 7, count: 100)
        #expect(long.withUnsafeBytes { pair.client.write($0) } == .wrote(100))
        waitUntilReady(pair.sockets.server, for: .wantRead)
        var small = [UInt8](repeating: 0, count: 10)
        #expect(small.withUnsafeMutableBytes { pair.server.read(into: $0) } == .bytes(10))
        #expect(pair.server.pendingReadableBytes == 90)
    }

    @Test("close_notify from the peer reads as a clean close")
    func cleanClose() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(), client: pki.clientConfiguration(identity: pki.client))
        try #require(pair.handshake().server == .complete)

        pair.client.shutdown()
        #expect(readUntilSettled(&pair.server, from: pair.sockets.server) == .closed)
    }

    @Test("a peer closing its socket without close_notify reads as a close")
    func closeWithoutNotify() throws {
        let pki = try TestPKI()
        defer { pki.removeFiles() }
        var pair = try ConnectedPair(
            server: pki.serverConfiguration(), client: pki.clientConfiguration(identity: pki.client))
        try #require(pair.handshake().server == .complete)

        Glibc.shutdown(pair.sockets.client, Int32(SHUT_WR))
        #expect(readUntilSettled(&pair.server, from: pair.sockets.server) == .closed)
    }
}

/// Reads exactly `count` bytes, waiting for readability in between.
private func readAll(_ connection: inout TLSConnection, from descriptor: Int32, count: Int) -> [UInt8] {
    var collected: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while collected.count < count {
        switch buffer.withUnsafeMutableBytes({ connection.read(into: $0) }) {
        case .bytes(let n): collected.append(contentsOf: buffer[..<n])
        case .wantRead: if !waitUntilReady(descriptor, for: .wantRead) { return collected }
        case .wantWrite: if !waitUntilReady(descriptor, for: .wantWrite) { return collected }
        case .closed, .failed: return collected
        }
    }
    return collected
}

/// Reads until the result is neither bytes nor a wait.
private func readUntilSettled(_ connection: inout TLSConnection, from descriptor: Int32) -> TLSReadResult {
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let result = buffer.withUnsafeMutableBytes { connection.read(into: $0) }
        switch result {
        case .bytes: continue
        case .wantRead, .wantWrite:
            if !waitUntilReady(descriptor, for: result == .wantRead ? .wantRead : .wantWrite) { return result }
        case .closed, .failed: return result
        }
    }
}
