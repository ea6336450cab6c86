import COpenSSL

/// Scoped memory BIOs for moving PEM text in and out of OpenSSL.
enum MemoryBIO {
    /// Calls `body` with a read-only BIO over the UTF-8 bytes of `text`.
    ///
    /// The BIO borrows the string's storage, so it must not escape `body`.
    static func withReadable<T>(
        _ text: String,
        what: String,
        code: TLSError.Code = .certificate,
        _ body: (OpaquePointer) throws(TLSError) -> T
    ) throws(TLSError) -> T {
        var text = text
        let result: Result<T, TLSError> = text.withUTF8 { bytes in
            guard bytes.count <= Int(Int32.max) else {
                return .failure(TLSError(code: code, message: "tls: \(what) is too large"))
            }
            guard let bio = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count)) else {
                return .failure(.openSSL(code, "reading \(what)", function: "BIO_new_mem_buf"))
            }
            defer { BIO_free(bio) }
            do throws(TLSError) {
                return .success(try body(bio))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Calls `write` with an empty memory BIO and returns what it wrote as a string.
    static func collectText(
        what: String,
        _ write: (OpaquePointer) throws(TLSError) -> Void
    ) throws(TLSError) -> String {
        guard let bio = BIO_new(BIO_s_mem()) else {
            throw .openSSL(.certificate, "writing \(what)", function: "BIO_new")
        }
        defer { BIO_free(bio) }
        try write(bio)

        var data: UnsafeMutablePointer<CChar>? = nil
        let length = trellis_BIO_get_mem_data(bio, &data)
        guard length >= 0, let data else {
            throw .openSSL(.certificate, "writing \(what)", function: "BIO_get_mem_data")
        }
        let bytes = UnsafeRawBufferPointer(start: data, count: Int(length))
        return String(decoding: bytes, as: UTF8.self)
    }
}
