import COpenSSL

/// Parsing of PEM text into OpenSSL objects. Every returned pointer is owned by the caller.
enum PEMReading {
    /// Reads every certificate in `pem`, in order; at least one must be present.
    ///
    /// The caller frees each returned `X509*` with `X509_free`.
    static func certificates(
        _ pem: String, what: String, code: TLSError.Code = .certificate
    ) throws(TLSError)
        -> [OpaquePointer]
    {
        try MemoryBIO.withReadable(pem, what: what, code: code) { bio throws(TLSError) in
            var certificates: [OpaquePointer] = []
            ERR_clear_error()
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                certificates.append(certificate)
            }

            // The loop ends with "no start line" once the input is used up; any other
            // reason, or no certificate at all, means the text is not a certificate list.
            let last = ERR_peek_last_error()
            let endOfInput =
                ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE
            if certificates.isEmpty || !endOfInput {
                for certificate in certificates { X509_free(certificate) }
                throw .openSSL(code, "parsing \(what)", function: "PEM_read_bio_X509")
            }
            ERR_clear_error()
            return certificates
        }
    }

    /// Reads the first certificate in `pem`. The caller frees it with `X509_free`.
    static func certificate(
        _ pem: String, what: String, code: TLSError.Code = .certificate
    ) throws(TLSError)
        -> OpaquePointer
    {
        let all = try certificates(pem, what: what, code: code)
        for extra in all.dropFirst() { X509_free(extra) }
        return all[0]
    }

    /// Reads an unencrypted private key. The caller frees it with `EVP_PKEY_free`.
    ///
    /// Encrypted keys are refused rather than prompting for a passphrase on the terminal.
    static func privateKey(
        _ pem: String, what: String, code: TLSError.Code = .certificate
    ) throws(TLSError)
        -> OpaquePointer
    {
        try MemoryBIO.withReadable(pem, what: what, code: code) { bio throws(TLSError) in
            ERR_clear_error()
            guard let key = PEM_read_bio_PrivateKey(bio, nil, refusePassphrase, nil) else {
                throw .openSSL(code, "parsing \(what)", function: "PEM_read_bio_PrivateKey")
            }
            return key
        }
    }

    /// Reads a PKCS#10 signing request. The caller frees it with `X509_REQ_free`.
    static func signingRequest(
        _ pem: String, what: String, code: TLSError.Code = .certificate
    ) throws(TLSError)
        -> OpaquePointer
    {
        try MemoryBIO.withReadable(pem, what: what, code: code) { bio throws(TLSError) in
            ERR_clear_error()
            guard let request = PEM_read_bio_X509_REQ(bio, nil, nil, nil) else {
                throw .openSSL(code, "parsing \(what)", function: "PEM_read_bio_X509_REQ")
            }
            return request
        }
    }
}

/// A passphrase callback that supplies none, so that OpenSSL never reads the terminal.
private func refusePassphrase(
    _ buffer: UnsafeMutablePointer<CChar>?,
    _ size: Int32,
    _ forWriting: Int32,
    _ context: UnsafeMutableRawPointer?
) -> Int32 {
    -1
}
