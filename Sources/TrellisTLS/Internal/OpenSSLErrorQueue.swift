import COpenSSL
import Glibc

/// The entries of OpenSSL's per-thread error queue, taken from the queue in one go.
///
/// OpenSSL records errors on the thread that made the failing call, so the queue must be
/// drained on that thread, straight after the call, before anything else can add to it.
struct OpenSSLErrorQueue {
    /// The packed error codes, oldest first.
    private(set) var codes: [UInt] = []
    /// One line per entry in OpenSSL's own format, oldest first.
    private(set) var lines: [String] = []

    /// Drains the calling thread's error queue.
    static func drain() -> OpenSSLErrorQueue {
        var queue = OpenSSLErrorQueue()
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            queue.codes.append(code)
            queue.lines.append(line(for: code))
        }
        return queue
    }

    /// The reason text of the oldest entry, which is usually the cause of the failure.
    var primaryReason: String? {
        guard let code = codes.first else { return nil }
        return Self.reason(for: code)
    }

    /// Whether any entry carries this library and reason.
    func contains(library: Int32, reason: Int32) -> Bool {
        codes.contains { ERR_GET_LIB($0) == library && ERR_GET_REASON($0) == reason }
    }

    static func reason(for code: UInt) -> String {
        if let text = ERR_reason_error_string(code) {
            return String(cString: text)
        }
        return "error \(ERR_GET_REASON(code)) in library \(ERR_GET_LIB(code))"
    }

    private static func line(for code: UInt) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}

extension TLSError {
    /// An error for a failed OpenSSL call outside a connection, with the queue drained.
    ///
    /// The message reads `tls: <what> failed: <reason>` where the reason is the oldest
    /// queue entry, or the function name when OpenSSL left no reason.
    static func openSSL(_ code: Code, _ what: String, function: String) -> TLSError {
        let queue = OpenSSLErrorQueue.drain()
        let reason = queue.primaryReason ?? "\(function) failed"
        return TLSError(
            code: code,
            message: "tls: \(what) failed: \(reason) (\(function))",
            openSSLReasons: queue.lines
        )
    }

    /// An error for a failed system call, naming the call and the errno.
    static func system(_ code: Code, _ what: String, function: String, errno: Int32) -> TLSError {
        TLSError(
            code: code,
            message: "tls: \(what) failed: \(function): \(describeErrno(errno))",
            systemErrno: errno
        )
    }
}

/// `strerror` text with the number, e.g. `Connection reset by peer (errno 104)`.
func describeErrno(_ number: Int32) -> String {
    guard let text = strerror(number) else { return "errno \(number)" }
    return "\(String(cString: text)) (errno \(number))"
}
