import COpenSSL

/// Turning OpenSSL's result of a failed call into a result or a ``TLSError``.
extension TLSConnection {
    /// The operations whose failures name the peer.
    enum Operation {
        case handshake, read, write

        func phrase(_ peer: String) -> String {
            switch self {
            case .handshake: "handshake with \(peer)"
            case .read: "read from \(peer)"
            case .write: "write to \(peer)"
            }
        }
    }

    /// What a non-successful SSL call means for the caller.
    enum Outcome {
        case wantRead, wantWrite, closed
        case failed(TLSError)
    }

    /// Classifies the result of an SSL call that did not succeed, draining the error
    /// queue. Must run on the calling thread straight after the call.
    func classify(_ returnCode: Int32, savedErrno: Int32, operation: Operation) -> Outcome {
        let kind = SSL_get_error(ssl, returnCode)
        let what = operation.phrase(peerDescription)
        switch kind {
        case SSL_ERROR_WANT_READ:
            return .wantRead
        case SSL_ERROR_WANT_WRITE:
            return .wantWrite
        case SSL_ERROR_ZERO_RETURN:
            return .closed
        case SSL_ERROR_SYSCALL:
            let queue = OpenSSLErrorQueue.drain()
            if !queue.codes.isEmpty {
                return .failed(protocolFailure(what, queue: queue, operation: operation))
            }
            guard savedErrno != 0 else {
                return .failed(TLSError(code: .io, message: "tls: \(what) failed: unexpected end of stream"))
            }
            return .failed(
                TLSError(
                    code: .io, message: "tls: \(what) failed: \(describeErrno(savedErrno))",
                    systemErrno: savedErrno))
        case SSL_ERROR_SSL:
            return .failed(protocolFailure(what, queue: OpenSSLErrorQueue.drain(), operation: operation))
        default:
            let queue = OpenSSLErrorQueue.drain()
            return .failed(
                TLSError(
                    code: .io, message: "tls: \(what) failed: unexpected SSL_get_error result \(kind)",
                    openSSLReasons: queue.lines))
        }
    }

    /// An error for a TLS protocol failure, explaining verification failures with the
    /// X.509 reason and naming a missing client certificate plainly.
    private func protocolFailure(_ what: String, queue: OpenSSLErrorQueue, operation: Operation) -> TLSError {
        let verifyResult = SSL_get_verify_result(ssl)
        if verifyResult != X509_V_OK {
            let reason = String(cString: X509_verify_cert_error_string(verifyResult))
            return TLSError(
                code: .verification,
                message: "tls: \(what) failed: certificate verify failed: \(reason)",
                openSSLReasons: queue.lines)
        }
        let reason: String
        if queue.contains(library: ERR_LIB_SSL, reason: SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
            reason = "certificate required (the peer sent no certificate)"
        } else {
            reason = queue.primaryReason ?? "unknown TLS error"
        }
        return TLSError(
            code: operation == .handshake ? .handshake : .io,
            message: "tls: \(what) failed: \(reason)",
            openSSLReasons: queue.lines)
    }
}
