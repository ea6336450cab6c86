import TrellisWire

/// Bytes from a hex string such as `"0801"`; traps on bad input, which is a test bug.
func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    precondition(digits.count.isMultiple(of: 2), "odd hex length")
    return stride(from: 0, to: digits.count, by: 2).map { i in
        UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16)!
    }
}

/// The lowercase hex spelling of `bytes`.
func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// `message` encoded and decoded again.
func roundTrip<M: WireMessage>(_ message: M) throws -> M {
    try M(decoding: message.encoded())
}

/// The error that decoding `bytes` as `M` throws, or nil when it decodes.
func decodingError<M: WireMessage>(_ type: M.Type, _ bytes: [UInt8]) -> WireDecodingError? {
    do {
        _ = try M(decoding: bytes)
        return nil
    } catch {
        return error
    }
}

/// A protobuf length-delimited field: tag, varint length, body.
func lengthDelimited(field: UInt32, _ body: [UInt8]) -> [UInt8] {
    varint(UInt64(field) << 3 | 2) + varint(UInt64(body.count)) + body
}

/// The protobuf varint encoding of `value`.
func varint(_ value: UInt64) -> [UInt8] {
    var value = value
    var out: [UInt8] = []
    while value >= 0x80 {
        out.append(UInt8(value & 0x7f) | 0x80)
        value >>= 7
    }
    out.append(UInt8(value))
    return out
}

/// A frame as it travels: 4-byte big-endian length, then the body.
func prefixed(_ body: [UInt8]) -> [UInt8] {
    let n = UInt32(body.count)
    return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + body
}
