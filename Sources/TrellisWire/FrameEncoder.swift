/// Writes frames as they travel on a connection: a 4-byte big-endian length N, then the
/// N bytes of the encoded ``WireV1/Frame``.
public struct FrameEncoder: Sendable {
    /// The largest frame body the encoder writes; the peer's decoder enforces the same
    /// limit, so a larger frame would end the connection.
    public var maxFrameSize: Int

    /// - Parameter maxFrameSize: The largest frame body in bytes, 4 MiB by default.
    public init(maxFrameSize: Int = FrameDecoder.defaultMaxFrameSize) {
        precondition(maxFrameSize > 0 && maxFrameSize <= Int(UInt32.max), "frame size limit out of range")
        self.maxFrameSize = maxFrameSize
    }

    /// Appends the length prefix and the encoding of `frame` to `buffer`.
    ///
    /// The frame is encoded straight after a reserved prefix, which is then patched, so
    /// nothing is copied. On failure `buffer` is left as it was.
    ///
    /// - Throws: ``FrameError`` with code ``FrameError/Code/missingKind`` when `frame`
    ///   has no kind, ``FrameError/Code/unencodable`` when it cannot be encoded (a
    ///   string with a NUL), ``FrameError/Code/frameTooLarge`` when it exceeds
    ///   ``maxFrameSize``.
    public func encode(_ frame: WireV1.Frame, appendingTo buffer: inout [UInt8]) throws(FrameError) {
        guard frame.kind != nil else {
            throw .missingKind(streamID: frame.streamId)
        }
        let start = buffer.count
        buffer.append(contentsOf: [0, 0, 0, 0])
        do {
            try frame.encode(appendingTo: &buffer)
        } catch {
            buffer.removeSubrange(start...)
            throw .unencodable(error)
        }
        let length = buffer.count - start - 4
        guard length <= maxFrameSize else {
            buffer.removeSubrange(start...)
            throw .frameTooLarge(length: length, limit: maxFrameSize)
        }
        buffer[start] = UInt8(truncatingIfNeeded: length >> 24)
        buffer[start + 1] = UInt8(truncatingIfNeeded: length >> 16)
        buffer[start + 2] = UInt8(truncatingIfNeeded: length >> 8)
        buffer[start + 3] = UInt8(truncatingIfNeeded: length)
    }
}
