import CProtobufC
import Glibc

// Small conversions between protobuf-c storage and Swift values, used by the
// generated code in every module.

/// The address protobuf-c's unpack functions read from.
@_spi(TrellisGenerated)
@inlinable
public func wireBaseAddress(_ bytes: UnsafeRawBufferPointer) -> UnsafePointer<UInt8>? {
    bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
}

/// A Swift string from an unpacked `char *` field.
///
/// Decoding validated the bytes first (UTF-8, no NUL), so nothing is lost or repaired.
@_spi(TrellisGenerated)
public func wireString(_ cString: UnsafePointer<CChar>?) -> String {
    guard let cString else { return "" }
    let utf8 = UnsafeBufferPointer(
        start: UnsafeRawPointer(cString).assumingMemoryBound(to: UInt8.self),
        count: strlen(cString)
    )
    return String(decoding: utf8, as: UTF8.self)
}

/// A Swift array from an unpacked `bytes` field.
@_spi(TrellisGenerated)
public func wireBytes(_ data: ProtobufCBinaryData) -> [UInt8] {
    guard data.len > 0, let bytes = data.data else { return [] }
    return Array(UnsafeBufferPointer(start: bytes, count: data.len))
}

/// Grows `buffer` by `byteCount` bytes and lets `pack` write them in place.
///
/// `pack` returns how many bytes it wrote, which must be exactly `byteCount`:
/// protobuf-c's packed size and its packing disagreeing is a bug, not bad input.
@_spi(TrellisGenerated)
@inlinable
public func wireAppend(
    byteCount: Int,
    to buffer: inout [UInt8],
    _ pack: (UnsafeMutablePointer<UInt8>) -> Int
) {
    guard byteCount > 0 else { return }
    let start = buffer.count
    buffer.append(contentsOf: repeatElement(0, count: byteCount))
    buffer.withUnsafeMutableBufferPointer { storage in
        let written = pack(storage.baseAddress! + start)
        precondition(written == byteCount, "protobuf-c packed \(written) bytes, expected \(byteCount)")
    }
}

extension WireDecodingError {
    /// protobuf-c's unpack returned NULL, which it does without saying why.
    @_spi(TrellisGenerated)
    public static func unpackFailed(_ messageType: String, byteCount: Int) -> WireDecodingError {
        WireDecodingError(
            code: .malformed,
            messageType: messageType,
            reason: "protobuf-c could not unpack the \(byteCount) bytes"
        )
    }
}
