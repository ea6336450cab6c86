import CEpoll

#if canImport(Glibc)
import Glibc
#endif

/// Thin, checked wrappers over the socket calls the runtime uses. Every failure becomes
/// an ``RPCSystemError`` naming the call.
enum Socket {
    /// A non-blocking listening TCP socket bound to `address`; port 0 picks a free port.
    static func listen(on address: SocketAddress, backlog: Int32 = 1024) throws(RPCSystemError) -> Int32 {
        let fd = socket(
            address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw RPCSystemError(function: "socket", errno: errno, context: "listening on \(address)")
        }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockAddr { bind(fd, $0, $1) }
        guard bound == 0 else {
            let error = RPCSystemError(function: "bind", errno: errno, context: "listening on \(address)")
            close(fd)
            throw error
        }
        guard Glibc.listen(fd, backlog) == 0 else {
            let error = RPCSystemError(function: "listen", errno: errno, context: "listening on \(address)")
            close(fd)
            throw error
        }
        return fd
    }

    /// The address a socket is bound to.
    static func localAddress(of fd: Int32) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return result == 0 ? SocketAddress(storage) : nil
    }

    /// Accepts one pending connection, non-blocking; nil when none is pending.
    static func accept(_ fd: Int32) throws(RPCSystemError) -> (fd: Int32, peer: SocketAddress?)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let client = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { trellis_accept_nonblocking(fd, $0, &length) }
        }
        if client < 0 {
            let code = errno
            if code == EAGAIN || code == EWOULDBLOCK || code == EINTR || code == ECONNABORTED { return nil }
            throw RPCSystemError(function: "accept4", errno: code)
        }
        setNoDelay(client)
        return (client, SocketAddress(storage))
    }

    /// Starts a non-blocking connect. Returns the fd and whether it already completed.
    static func connect(to address: SocketAddress) throws(RPCSystemError) -> (fd: Int32, connected: Bool) {
        let fd = socket(
            address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw RPCSystemError(function: "socket", errno: errno, context: "connecting to \(address)")
        }
        setNoDelay(fd)
        let result = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        if result == 0 { return (fd, true) }
        let code = errno
        if code == EINPROGRESS { return (fd, false) }
        close(fd)
        throw RPCSystemError(function: "connect", errno: code, context: "connecting to \(address)")
    }

    /// The pending error of a socket after a non-blocking connect, 0 when connected.
    static func pendingError(_ fd: Int32) -> Int32 {
        var code: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
        return code
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
