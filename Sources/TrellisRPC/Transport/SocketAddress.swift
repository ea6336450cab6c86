import CEpoll

#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address and port.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    enum Storage: Hashable, Sendable {
        case v4(address: UInt32, port: UInt16)  // both in host byte order
        case v6(address: [UInt8], port: UInt16)
    }

    let storage: Storage

    /// The port number.
    public var port: Int {
        switch storage {
        case .v4(_, let port), .v6(_, let port): Int(port)
        }
    }

    /// The numeric host, e.g. `127.0.0.1` or `::1`.
    public var host: String {
        switch storage {
        case .v4(let address, _):
            return "\(address >> 24).\((address >> 16) & 0xFF).\((address >> 8) & 0xFF).\(address & 0xFF)"
        case .v6(let bytes, _):
            var buffer = [UInt8](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            var raw = in6_addr()
            withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: bytes) }
            buffer.withUnsafeMutableBufferPointer { out in
                _ = out.withMemoryRebound(to: CChar.self) {
                    inet_ntop(AF_INET6, &raw, $0.baseAddress, socklen_t($0.count))
                }
            }
            return String(decoding: buffer.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// `127.0.0.1:7443` or `[::1]:7443`.
    public var description: String {
        switch storage {
        case .v4: "\(host):\(port)"
        case .v6: "[\(host)]:\(port)"
        }
    }

    /// Parses a numeric `HOST:PORT`, `[V6]:PORT`; `localhost` means 127.0.0.1.
    ///
    /// Host names other than `localhost` are not resolved: the coordinator and agents
    /// are configured with addresses, and resolution belongs to a layer that can block.
    public init(parsing text: String) throws(RPCConfigurationError) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[close...].hasPrefix("]:") else {
                throw RPCConfigurationError("address \(text) is not [IPv6]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw RPCConfigurationError("address \(text) has no port (expected HOST:PORT)")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText) else {
            throw RPCConfigurationError("address \(text) has an invalid port \(portText)")
        }
        let hostString = host == "localhost" ? "127.0.0.1" : String(host)
        var v4 = in_addr()
        if inet_pton(AF_INET, hostString, &v4) == 1 {
            storage = .v4(address: UInt32(bigEndian: v4.s_addr), port: port)
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, hostString, &v6) == 1 {
            storage = .v6(address: withUnsafeBytes(of: &v6) { Array($0) }, port: port)
            return
        }
        throw RPCConfigurationError("address \(text): \(host) is not a numeric IPv4 or IPv6 address")
    }

    init(storage: Storage) {
        self.storage = storage
    }

    var family: Int32 {
        switch storage {
        case .v4: AF_INET
        case .v6: AF_INET6
        }
    }

    /// Calls `body` with the address as a `sockaddr`.
    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch storage {
        case .v4(let address, let port):
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr.s_addr = address.bigEndian
            return withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(let bytes, let port):
            var addr = sockaddr_in6()
            addr.sin6_family = sa_family_t(AF_INET6)
            addr.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &addr.sin6_addr) { $0.copyBytes(from: bytes) }
            return withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }

    /// Reads an address out of a `sockaddr_storage` filled by the kernel.
    init?(_ storage: sockaddr_storage) {
        var copy = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let addr = withUnsafePointer(to: &copy) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }
            }
            self.storage = .v4(address: UInt32(bigEndian: addr.sin_addr.s_addr), port: UInt16(bigEndian: addr.sin_port))
        case AF_INET6:
            var addr = withUnsafePointer(to: &copy) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }
            }
            let bytes = withUnsafeBytes(of: &addr.sin6_addr) { Array($0) }
            self.storage = .v6(address: bytes, port: UInt16(bigEndian: addr.sin6_port))
        default:
            return nil
        }
    }
}

/// A configuration value the runtime cannot use.
public struct RPCConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "rpc: \(message)" }
}
