import COpenSSL

/// SHA-256 digests of keys and encodings, as lower-case hex without separators.
enum Digests {
    /// The SHA-256 of `bytes`.
    static func sha256Hex(_ bytes: UnsafeRawBufferPointer, what: String) throws(TLSError) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        ERR_clear_error()
        guard EVP_Digest(bytes.baseAddress, bytes.count, &digest, &length, EVP_sha256(), nil) == 1 else {
            throw .openSSL(.certificate, "hashing \(what)", function: "EVP_Digest")
        }
        return hex(digest.prefix(Int(length)))
    }

    /// The SHA-256 of the DER SubjectPublicKeyInfo of `key` (an `EVP_PKEY*`, borrowed).
    static func publicKeySHA256(of key: OpaquePointer) throws(TLSError) -> String {
        let what = "encoding a public key"
        ERR_clear_error()
        let length = i2d_PUBKEY(key, nil)
        guard length > 0 else {
            throw .openSSL(.certificate, what, function: "i2d_PUBKEY")
        }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer in
            // i2d_* writes at *cursor and advances it; the array does not move meanwhile.
            var cursor = buffer.baseAddress
            return i2d_PUBKEY(key, &cursor)
        }
        guard written == length else {
            throw .openSSL(.certificate, what, function: "i2d_PUBKEY")
        }
        let digest = der.withUnsafeBytes { bytes in
            Result { () throws(TLSError) in try sha256Hex(bytes, what: "a public key") }
        }
        return try digest.get()
    }

    /// Lower-case hex of `bytes`, two digits each.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
