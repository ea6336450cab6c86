import COpenSSL

/// A private key held by OpenSSL (an `EVP_PKEY`), for signing certificates and requests.
///
/// Keys that Trellis generates are EC P-256. Keys loaded from PEM may be of any type that
/// OpenSSL reads, unencrypted.
public final class PrivateKey: @unchecked Sendable {
    // @unchecked Sendable: the EVP_PKEY is never modified after creation, and OpenSSL 3
    // allows a constructed EVP_PKEY to be used for signing and encoding by several
    // threads at once.

    /// The `EVP_PKEY*`, owned by this object.
    let pointer: OpaquePointer

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// Generates a new EC P-256 key.
    public static func generate() throws(TLSError) -> PrivateKey {
        let what = "generating a P-256 key"
        ERR_clear_error()
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            throw .openSSL(.certificate, what, function: "EVP_PKEY_CTX_new_from_name")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else {
            throw .openSSL(.certificate, what, function: "EVP_PKEY_keygen_init")
        }
        guard EVP_PKEY_CTX_set_group_name(context, "P-256") == 1 else {
            throw .openSSL(.certificate, what, function: "EVP_PKEY_CTX_set_group_name")
        }
        var key: OpaquePointer? = nil
        guard EVP_PKEY_generate(context, &key) == 1, let key else {
            throw .openSSL(.certificate, what, function: "EVP_PKEY_generate")
        }
        return PrivateKey(taking: key)
    }

    /// Reads an unencrypted private key (PKCS#8, or a traditional EC or RSA key) from PEM.
    ///
    /// - Throws: ``TLSError`` with code `.certificate` when the text is not such a key.
    public convenience init(pem: String) throws(TLSError) {
        self.init(taking: try PEMReading.privateKey(pem, what: "private key PEM"))
    }

    /// The key as unencrypted PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    public func pemRepresentation() throws(TLSError) -> String {
        try MemoryBIO.collectText(what: "a private key") { bio throws(TLSError) in
            ERR_clear_error()
            guard PEM_write_bio_PrivateKey(bio, pointer, nil, nil, 0, nil, nil) == 1 else {
                throw .openSSL(.certificate, "encoding a private key", function: "PEM_write_bio_PrivateKey")
            }
        }
    }

    /// Writes the key as PEM to `path`, readable and writable by the owner only.
    ///
    /// The file is created with mode 0600 (never wider, whatever the umask) under a
    /// temporary name and renamed over `path`, so no reader sees a partial key and an
    /// existing file is replaced atomically.
    public func write(to path: String) throws(TLSError) {
        try FileWriting.replace(path, with: pemRepresentation(), mode: 0o600, what: "the private key")
    }
}
