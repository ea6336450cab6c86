import Glibc
import TrellisRPC
import TrellisTLS
import TrellisWire

/// Why a raw client gave up.
public struct RawClientError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A plain TCP connection for sending bytes that are not TLS at all.
public final class RawTCPClient: @unchecked Sendable {
    // @unchecked Sendable: used by one test at a time; blocking calls hop to a thread.
    public let fd: Int32

    public init(address: SocketAddress) throws {
        fd = try RawSocket.connect(address)
    }

    deinit { close(fd) }

    /// Writes every byte, waiting for the socket as needed.
    public func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written > 0 {
                offset += written
            } else if errno == EAGAIN {
                _ = RawSocket.poll(fd, events: Int16(POLLOUT), timeout: .seconds(5))
            } else {
                throw RawClientError("send failed: errno \(errno)")
            }
        }
    }

    /// Whether the peer closes the connection (EOF or reset) within `timeout`; bytes that
    /// arrive meanwhile are discarded.
    public func waitForClose(timeout: Duration) async -> Bool {
        (try? await runBlocking { self.waitForCloseBlocking(timeout: timeout) }) ?? false
    }

    private func waitForCloseBlocking(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            guard RawSocket.poll(fd, events: Int16(POLLIN), timeout: deadline - .now) else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) { return true }
        }
        return false
    }
}

/// A TLS connection driven by hand, for sending frames (or broken frames) byte by byte
/// and reading exactly what the server answers.
public final class RawTLSClient: @unchecked Sendable {
    // @unchecked Sendable: used by one test at a time, one call at a time; each blocking
    // call runs on a thread of its own (`runBlocking`), never on the cooperative pool.
    public let fd: Int32
    private var tls: TLSConnection
    private var decoder = FrameDecoder(maxFrameSize: 16 << 20)
    private var closed = false

    /// Connects and completes the handshake within `timeout`, off the cooperative pool.
    public static func connect(
        address: SocketAddress, tls configuration: TLSClientConfiguration, timeout: Duration = .seconds(10)
    ) async throws -> RawTLSClient {
        try await runBlocking { try RawTLSClient(address: address, tls: configuration, timeout: timeout) }
    }

    private init(address: SocketAddress, tls configuration: TLSClientConfiguration, timeout: Duration) throws {
        let fd = try RawSocket.connect(address)
        do {
            let context = try TLSContext.client(configuration)
            tls = try TLSConnection(
                context: context, fileDescriptor: fd, role: .client, peerDescription: address.description)
        } catch {
            close(fd)
            throw error
        }
        // From here on the instance is whole: a throw runs deinit, which closes `fd`.
        self.fd = fd
        let deadline = ContinuousClock.now + timeout
        while true {
            switch tls.handshake() {
            case .complete:
                return
            case .wantRead:
                _ = RawSocket.poll(fd, events: Int16(POLLIN), timeout: deadline - .now)
            case .wantWrite:
                _ = RawSocket.poll(fd, events: Int16(POLLOUT), timeout: deadline - .now)
            case .failed(let error):
                throw error
            }
            if ContinuousClock.now >= deadline {
                throw RawClientError("handshake timed out")
            }
        }
    }

    deinit { close(fd) }

    /// Ends the connection from this side (the descriptor stays open until the client
    /// goes away), so that a server stopping afterwards need not wait for it.
    public func disconnect() {
        shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Writes bytes as they are: a length prefix, a frame, garbage.
    public func send(_ bytes: [UInt8]) async throws {
        try await runBlocking { try self.sendBlocking(bytes) }
    }

    private func sendBlocking(_ bytes: [UInt8]) throws {
        var offset = 0
        let deadline = ContinuousClock.now + .seconds(10)
        while offset < bytes.count {
            let result = bytes.withUnsafeBytes { tls.write(UnsafeRawBufferPointer(rebasing: $0[offset...])) }
            switch result {
            case .wrote(let count): offset += count
            case .wantRead: _ = RawSocket.poll(fd, events: Int16(POLLIN), timeout: deadline - .now)
            case .wantWrite: _ = RawSocket.poll(fd, events: Int16(POLLOUT), timeout: deadline - .now)
            case .failed(let error): throw error
            }
            if ContinuousClock.now >= deadline { throw RawClientError("send timed out") }
        }
    }

    /// Writes one well-formed frame.
    public func send(frame: WireV1.Frame) async throws {
        var bytes: [UInt8] = []
        try FrameEncoder(maxFrameSize: Int(UInt32.max)).encode(frame, appendingTo: &bytes)
        try await send(bytes)
    }

    /// The next frame from the server; nil once the server has closed the connection.
    ///
    /// - Throws: when nothing arrives within `timeout`.
    public func readFrame(timeout: Duration = .seconds(10)) async throws -> WireV1.Frame? {
        try await runBlocking { try self.readFrameBlocking(timeout: timeout) }
    }

    private func readFrameBlocking(timeout: Duration) throws -> WireV1.Frame? {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while true {
            if let frame = try decoder.nextFrame() { return frame }
            if closed { return nil }
            let result = buffer.withUnsafeMutableBytes { tls.read(into: $0) }
            switch result {
            case .bytes(let count):
                buffer.withUnsafeBytes { decoder.append(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            case .wantRead:
                if ContinuousClock.now >= deadline { throw RawClientError("no frame within \(timeout)") }
                _ = RawSocket.poll(fd, events: Int16(POLLIN), timeout: deadline - .now)
            case .wantWrite:
                _ = RawSocket.poll(fd, events: Int16(POLLOUT), timeout: deadline - .now)
            case .closed, .failed:
                closed = true
            }
        }
    }

    /// The frames in the plaintext of the next single read from the server: one TLS
    /// record, so they are what the server wrote in one flush. Fails if frames from an
    /// earlier read are still buffered or a frame is cut at the record's end.
    public func readRecordFrames(timeout: Duration = .seconds(10)) async throws -> [WireV1.Frame] {
        try await runBlocking {
            guard try self.decoder.nextFrame() == nil else { throw RawClientError("frames already buffered") }
            let deadline = ContinuousClock.now + timeout
            var buffer = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let result = buffer.withUnsafeMutableBytes { self.tls.read(into: $0, oneRecord: true) }
                switch result {
                case .bytes(let count):
                    buffer.withUnsafeBytes { self.decoder.append(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
                    var frames: [WireV1.Frame] = []
                    while let frame = try self.decoder.nextFrame() { frames.append(frame) }
                    guard self.decoder.bufferedByteCount == 0 else {
                        throw RawClientError("a frame continues past the record")
                    }
                    return frames
                case .wantRead:
                    if ContinuousClock.now >= deadline { throw RawClientError("nothing within \(timeout)") }
                    _ = RawSocket.poll(self.fd, events: Int16(POLLIN), timeout: deadline - .now)
                case .wantWrite:
                    _ = RawSocket.poll(self.fd, events: Int16(POLLOUT), timeout: deadline - .now)
                case .closed, .failed:
                    self.closed = true
                    return []
                }
            }
        }
    }

    /// Reads frames until the server closes; returns them.
    public func readUntilClosed(timeout: Duration = .seconds(10)) async throws -> [WireV1.Frame] {
        try await runBlocking {
            var frames: [WireV1.Frame] = []
            while let frame = try self.readFrameBlocking(timeout: timeout) { frames.append(frame) }
            return frames
        }
    }

    /// The next frame on `stream`, skipping frames for other streams and the connection.
    public func readFrame(onStream stream: UInt32, timeout: Duration = .seconds(10)) async throws -> WireV1.Frame? {
        try await runBlocking {
            while let frame = try self.readFrameBlocking(timeout: timeout) {
                if frame.streamId == stream { return frame }
            }
            return nil
        }
    }
}

enum RawSocket {
    static func connect(_ address: SocketAddress) throws -> Int32 {
        let family = address.host.contains(":") ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RawClientError("socket failed: errno \(errno)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(address.port).bigEndian
        inet_pton(AF_INET, address.host, &addr.sin_addr)
        let result = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close(fd)
            throw RawClientError("connect to \(address) failed: errno \(errno)")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        return fd
    }

    /// Waits for `events`; returns whether they arrived before `timeout`.
    static func poll(_ fd: Int32, events: Int16, timeout: Duration) -> Bool {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        let (seconds, attoseconds) = max(timeout, .zero).components
        let millis = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        return Glibc.poll(&entry, 1, max(millis, 1)) > 0
    }
}
