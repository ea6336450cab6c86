import Glibc

/// A failed socket call in a test fixture.
struct SocketFailure: Error, CustomStringConvertible {
    var description: String
}

/// Two connected, non-blocking TCP sockets on 127.0.0.1, closed when dropped.
struct LoopbackSockets: ~Copyable {
    /// The accepted side.
    let server: Int32
    /// The connecting side.
    let client: Int32
    /// The client's address as the server sees it, e.g. `127.0.0.1:51234`.
    let clientAddress: String
    /// The server's address as the client sees it.
    let serverAddress: String

    /// Connects two sockets through a listener on an ephemeral port. With `bufferSize`,
    /// both sockets' kernel buffers are shrunk so that large writes come out partial.
    init(bufferSize: Int32? = nil) throws {
        signal(SIGPIPE, SIG_IGN)
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw SocketFailure(description: "socket: errno \(errno)") }
        defer { close(listener) }
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard client >= 0 else { throw SocketFailure(description: "socket: errno \(errno)") }
        if let bufferSize {
            try Self.setBuffers(listener, bufferSize)
            try Self.setBuffers(client, bufferSize)
        }

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        try Self.call("bind") { Self.withSockaddr(&address) { bind(listener, $0, $1) } }
        try Self.call("listen") { listen(listener, 1) }
        var bound = sockaddr_in()
        try Self.call("getsockname") {
            Self.withSockaddr(&bound) { pointer, _ in
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                return getsockname(listener, pointer, &length)
            }
        }
        // A blocking connect to a listening loopback socket completes from the backlog.
        try Self.call("connect") { Self.withSockaddr(&bound) { connect(client, $0, $1) } }
        let server = accept(listener, nil, nil)
        guard server >= 0 else { throw SocketFailure(description: "accept: errno \(errno)") }

        for descriptor in [server, client] {
            let flags = fcntl(descriptor, F_GETFL)
            try Self.call("fcntl") { fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) }
        }
        let clientAddress = try Self.peerName(of: server)
        self.server = server
        self.client = client
        self.serverAddress = "127.0.0.1:\(UInt16(bigEndian: bound.sin_port))"
        self.clientAddress = clientAddress
    }

    deinit {
        close(server)
        close(client)
    }

    private static func setBuffers(_ descriptor: Int32, _ size: Int32) throws {
        var size = size
        let length = socklen_t(MemoryLayout<Int32>.size)
        try call("setsockopt") { setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &size, length) }
        try call("setsockopt") { setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, length) }
    }

    private static func peerName(of descriptor: Int32) throws -> String {
        var peer = sockaddr_in()
        try call("getpeername") {
            withSockaddr(&peer) { pointer, _ in
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                return getpeername(descriptor, pointer, &length)
            }
        }
        return "127.0.0.1:\(UInt16(bigEndian: peer.sin_port))"
    }

    private static func withSockaddr<T>(
        _ address: inout sockaddr_in,
        _ body: (UnsafeMutablePointer<sockaddr>, socklen_t) -> T
    ) -> T {
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    private static func call(_ name: String, _ body: () -> Int32) throws {
        guard body() == 0 else { throw SocketFailure(description: "\(name): errno \(errno)") }
    }
}
