/// The outcome of one non-blocking step of a handshake.
public enum TLSHandshakeResult: Sendable, Equatable {
    /// The handshake is done; the connection can carry data.
    case complete
    /// Call again once the socket is readable.
    case wantRead
    /// Call again once the socket is writable.
    case wantWrite
    /// The handshake failed; close the socket.
    case failed(TLSError)
}

/// The outcome of a non-blocking read of plaintext.
public enum TLSReadResult: Sendable, Equatable {
    /// This many bytes, at least one, were placed at the start of the buffer.
    case bytes(Int)
    /// Nothing is buffered; call again once the socket is readable.
    case wantRead
    /// OpenSSL must write before it can read (e.g. a key update); call again once the
    /// socket is writable.
    case wantWrite
    /// The peer closed the connection, with close_notify or by closing its socket.
    case closed
    /// The connection failed; close the socket.
    case failed(TLSError)
}

/// The outcome of a non-blocking write of plaintext.
public enum TLSWriteResult: Sendable, Equatable {
    /// This many bytes, at least one, from the start of the buffer were written.
    case wrote(Int)
    /// Nothing was written; call again with the same bytes once the socket is readable.
    case wantRead
    /// Nothing was written; call again with the same bytes once the socket is writable.
    case wantWrite
    /// The connection failed; close the socket.
    case failed(TLSError)
}
