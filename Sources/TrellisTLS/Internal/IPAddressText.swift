import Glibc

/// Recognition and normalisation of textual IPv4 and IPv6 addresses.
enum IPAddressText {
    /// Whether `text` is an IPv4 or IPv6 address (not a DNS name).
    static func isAddress(_ text: String) -> Bool {
        bytes(of: text) != nil
    }

    /// The 4 or 16 network-order bytes of an address, or `nil` for anything else.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }

    /// The canonical text of 4 or 16 address bytes, or `nil` for any other length.
    static func text(of bytes: UnsafeRawBufferPointer) -> String? {
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(family, bytes.baseAddress, &buffer, socklen_t(buffer.count)) != nil else {
            return nil
        }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
