/// Reads frames from the bytes of a connection as they arrive.
///
/// Feed each chunk read from the connection to ``append(_:)``, then call
/// ``nextFrame()`` until it returns nil. A length prefix is checked against
/// ``maxFrameSize`` as soon as its 4 bytes are here, before any of the body is awaited,
/// so a hostile prefix costs nothing. Consumed bytes are dropped on the next append;
/// used that way, the buffer never holds more than one frame of the largest size plus
/// one chunk.
///
/// States: reading, until a call throws; then failed, where every ``nextFrame()``
/// throws the same error again (the framing can no longer be trusted, and the
/// connection is to be closed).
public struct FrameDecoder: Sendable {
    /// 4 MiB, like gRPC's default receive limit.
    public static let defaultMaxFrameSize = 4 << 20

    /// The largest frame body accepted, in bytes.
    public let maxFrameSize: Int

    private var buffer: [UInt8] = []
    /// Where the unread bytes of `buffer` start.
    private var readIndex = 0
    private var failure: FrameError?

    /// - Parameter maxFrameSize: The largest frame body in bytes; exactly this size is
    ///   accepted, one more is not.
    public init(maxFrameSize: Int = FrameDecoder.defaultMaxFrameSize) {
        precondition(maxFrameSize > 0 && maxFrameSize <= Int(UInt32.max), "frame size limit out of range")
        self.maxFrameSize = maxFrameSize
    }

    /// Bytes received but not yet returned as frames: a partial frame, or frames not
    /// yet asked for. A value that stays above zero while the peer is silent is a
    /// frame that stalled halfway.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds bytes read from the connection.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, !bytes.isEmpty else { return }
        if readIndex > 0 {
            // Each byte is moved at most once: only the unread tail, after frames were taken.
            buffer.removeSubrange(0..<readIndex)
            readIndex = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Adds bytes read from the connection.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The next whole frame, or nil when the rest of it has not arrived yet.
    ///
    /// - Throws: ``FrameError`` with code ``FrameError/Code/frameTooLarge`` for a
    ///   prefix above ``maxFrameSize``, ``FrameError/Code/emptyFrame`` for a zero
    ///   prefix, ``FrameError/Code/undecodable`` when the body is not a valid `Frame`
    ///   (the ``WireDecodingError`` is the cause), ``FrameError/Code/missingKind``
    ///   for a frame without a kind.
    public mutating func nextFrame() throws(FrameError) -> WireV1.Frame? {
        if let failure {
            throw failure
        }
        guard bufferedByteCount >= 4 else { return nil }
        let length = buffer.withUnsafeBufferPointer { bytes in
            let p = bytes.baseAddress! + readIndex
            return Int(p[0]) << 24 | Int(p[1]) << 16 | Int(p[2]) << 8 | Int(p[3])
        }
        guard length > 0 else {
            throw fail(.emptyFrame)
        }
        guard length <= maxFrameSize else {
            throw fail(.frameTooLarge(length: length, limit: maxFrameSize))
        }
        guard bufferedByteCount >= 4 + length else {
            // No capacity is reserved for the body: memory grows with bytes that arrive,
            // not with what a prefix claims.
            return nil
        }

        let start = readIndex + 4
        let decoded = buffer.withUnsafeBytes { bytes in
            Result { () throws(WireDecodingError) in
                try WireV1.Frame(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<start + length]))
            }
        }
        readIndex = start + length
        if readIndex == buffer.count {
            // Keep a small buffer for the next frames; give a large one back, so that one
            // big frame does not pin megabytes to an otherwise idle connection.
            buffer.removeAll(keepingCapacity: buffer.capacity <= 64 << 10)
            readIndex = 0
        }
        switch decoded {
        case .success(let frame):
            guard frame.kind != nil else {
                throw fail(.missingKind(streamID: frame.streamId))
            }
            return frame
        case .failure(let error):
            throw fail(.undecodable(error))
        }
    }

    private mutating func fail(_ error: FrameError) -> FrameError {
        failure = error
        buffer = []
        readIndex = 0
        return error
    }
}
