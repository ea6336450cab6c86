import COpenSSL
import Glibc

extension TLSConnection {
    /// Advances the handshake as far as the socket allows without blocking.
    ///
    /// Call again after `.wantRead` or `.wantWrite` once the socket is ready. Once
    /// `.complete`, further calls return `.complete` at once. After `.failed` the peer has
    /// usually been sent an alert; close the socket.
    public mutating func handshake() -> TLSHandshakeResult {
        ERR_clear_error()
        let returnCode = SSL_do_handshake(ssl)
        let savedErrno = errno
        if returnCode == 1 { return .complete }

        switch classify(returnCode, savedErrno: savedErrno, operation: .handshake) {
        case .wantRead: return .wantRead
        case .wantWrite: return .wantWrite
        case .closed:
            hasFailed = true
            return .failed(
                TLSError(
                    code: .handshake,
                    message:
                        "tls: \(Operation.handshake.phrase(peerDescription)) failed: the peer closed the connection"))
        case .failed(let error):
            hasFailed = true
            return .failed(error)
        }
    }

    /// Reads decrypted bytes into `buffer`, as many as are available without blocking, up
    /// to its size; this may decrypt several records.
    ///
    /// Loop until `.wantRead`: bytes may be buffered inside OpenSSL (see
    /// ``pendingReadableBytes``) with nothing left on the socket, so readiness of the
    /// socket alone does not say whether plaintext is waiting.
    ///
    /// - Parameter oneRecord: stop after the first record that brought bytes, which shows
    ///   how the peer's writes were split into records (tests use it).
    /// - Precondition: `buffer` is not empty.
    public mutating func read(into buffer: UnsafeMutableRawBufferPointer, oneRecord: Bool = false) -> TLSReadResult {
        precondition(!buffer.isEmpty, "a TLS read needs room for at least one byte")
        if let deferred = deferredReadFailure {
            deferredReadFailure = nil
            return deferred
        }

        var total = 0
        while total < buffer.count {
            ERR_clear_error()
            var count = 0
            let returnCode = SSL_read_ex(ssl, buffer.baseAddress! + total, buffer.count - total, &count)
            let savedErrno = errno
            if returnCode == 1 {
                total += count
                // One SSL_read returns the plaintext of one record at most.
                if oneRecord { break }
                continue
            }

            let result: TLSReadResult
            switch classify(returnCode, savedErrno: savedErrno, operation: .read) {
            case .wantRead: result = .wantRead
            case .wantWrite: result = .wantWrite
            case .closed: result = .closed
            case .failed(let error):
                hasFailed = true
                result = .failed(error)
            }
            if total == 0 { return result }
            // Deliver the bytes first; a close or failure is reported by the next read.
            switch result {
            case .closed, .failed: deferredReadFailure = result
            default: break
            }
            break
        }
        return .bytes(total)
    }

    /// Encrypts and sends bytes from `buffer`, as many as the socket takes without
    /// blocking; partial writes are normal.
    ///
    /// The retry rule of OpenSSL applies: after any result, the next write must start
    /// with the bytes not yet reported written and must not be shorter than what this
    /// call was given minus what it reported. A caller that keeps one outbound buffer,
    /// consumes what was written and only ever appends satisfies it. The buffer may move
    /// between calls.
    ///
    /// - Precondition: `buffer` is not empty.
    public mutating func write(_ buffer: UnsafeRawBufferPointer) -> TLSWriteResult {
        precondition(!buffer.isEmpty, "a TLS write needs at least one byte")

        var total = 0
        while total < buffer.count {
            ERR_clear_error()
            var count = 0
            let returnCode = SSL_write_ex(ssl, buffer.baseAddress! + total, buffer.count - total, &count)
            let savedErrno = errno
            if returnCode == 1 {
                total += count
                continue
            }

            let result: TLSWriteResult
            switch classify(returnCode, savedErrno: savedErrno, operation: .write) {
            case .wantRead: result = .wantRead
            case .wantWrite: result = .wantWrite
            case .closed:
                hasFailed = true
                result = .failed(
                    TLSError(
                        code: .io,
                        message:
                            "tls: \(Operation.write.phrase(peerDescription)) failed: the peer closed the connection"))
            case .failed(let error):
                hasFailed = true
                result = .failed(error)
            }
            // Bytes already written are reported; a failure will recur on the next write.
            return total == 0 ? result : .wrote(total)
        }
        return .wrote(total)
    }

    /// Decrypted bytes buffered inside OpenSSL, readable without touching the socket.
    public var pendingReadableBytes: Int {
        Int(SSL_pending(ssl))
    }

    /// Sends close_notify if the socket takes it now; never blocks and never fails.
    ///
    /// This is a courtesy to the peer, not a handshake: the caller closes the socket next
    /// without waiting for the peer's close_notify. Nothing is sent after a failure,
    /// which OpenSSL forbids, or before the handshake has completed.
    public mutating func shutdown() {
        guard !hasFailed, SSL_is_init_finished(ssl) == 1 else { return }
        ERR_clear_error()
        // Best effort by design: a full socket or a peer that is gone loses the
        // close_notify, which changes nothing for a connection about to be closed.
        _ = SSL_shutdown(ssl)
        ERR_clear_error()
    }
}
