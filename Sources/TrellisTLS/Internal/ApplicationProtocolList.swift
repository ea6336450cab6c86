import COpenSSL

/// ALPN protocol names in their wire form (each name prefixed by its length).
///
/// A server context keeps its list alive for as long as the `SSL_CTX` may call the
/// selection callback, which receives the list as its argument.
final class ApplicationProtocolList: Sendable {
    /// The names, most preferred first.
    let names: [[UInt8]]
    /// The names in wire form, as `SSL_CTX_set_alpn_protos` expects them.
    let wire: [UInt8]

    init(_ names: [String]) throws(TLSError) {
        var wire: [UInt8] = []
        var encoded: [[UInt8]] = []
        for name in names {
            let bytes = Array(name.utf8)
            guard (1...255).contains(bytes.count) else {
                throw TLSError(
                    code: .configuration,
                    message: "tls: ALPN protocol \"\(name)\" must be 1 to 255 bytes long")
            }
            wire.append(UInt8(bytes.count))
            wire.append(contentsOf: bytes)
            encoded.append(bytes)
        }
        self.names = encoded
        self.wire = wire
    }

    /// Makes a client context offer these protocols.
    func offer(in context: OpaquePointer) throws(TLSError) {
        ERR_clear_error()
        // Unlike most of OpenSSL, this returns 0 on success.
        guard SSL_CTX_set_alpn_protos(context, wire, UInt32(wire.count)) == 0 else {
            throw .openSSL(.configuration, "setting the ALPN protocols", function: "SSL_CTX_set_alpn_protos")
        }
    }

    /// Makes a server context choose among these protocols. The caller keeps `self` alive
    /// for as long as the context.
    func installSelection(in context: OpaquePointer) {
        SSL_CTX_set_alpn_select_cb(context, selectApplicationProtocol, Unmanaged.passUnretained(self).toOpaque())
    }

    /// The server's most preferred protocol that the client offered, as a range of
    /// `offered` (which is in wire form), or `nil` when there is none.
    func select(from offered: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        for name in names {
            var index = 0
            while index < offered.count {
                let length = Int(offered[index])
                let start = index + 1
                let end = start + length
                guard end <= offered.count else { return nil }
                if length == name.count, offered[start..<end].elementsEqual(name) {
                    return start..<end
                }
                index = end
            }
        }
        return nil
    }
}

/// The ALPN selection callback: picks a protocol or fails the handshake.
///
/// A client that offers ALPN but none of the server's protocols is refused with the
/// `no_application_protocol` alert; OpenSSL does not call this for a client offering none.
private func selectApplicationProtocol(
    _ ssl: OpaquePointer?,
    _ selected: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
    _ selectedLength: UnsafeMutablePointer<UInt8>?,
    _ offered: UnsafePointer<UInt8>?,
    _ offeredLength: UInt32,
    _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let argument, let offered, let selected, let selectedLength else {
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
    let list = Unmanaged<ApplicationProtocolList>.fromOpaque(argument).takeUnretainedValue()
    let buffer = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
    guard let range = list.select(from: buffer) else {
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
    // The selection points into the client's offer, which lives as long as the handshake.
    selected.pointee = offered + range.lowerBound
    selectedLength.pointee = UInt8(range.count)
    return SSL_TLSEXT_ERR_OK
}
