import COpenSSL
import Glibc

extension CertificateInfo {
    /// Reads the first certificate in `pem`.
    ///
    /// - Throws: ``TLSError`` with code `.certificate` when the text holds no certificate.
    public init(pem: String) throws(TLSError) {
        let certificate = try PEMReading.certificate(pem, what: "certificate PEM")
        defer { X509_free(certificate) }
        try self.init(x509: certificate)
    }

    /// Reads an `X509*`, which stays owned by the caller.
    init(x509 certificate: OpaquePointer) throws(TLSError) {
        let what = "reading a certificate"
        ERR_clear_error()
        guard let subjectName = X509_get_subject_name(certificate),
            let issuerName = X509_get_issuer_name(certificate)
        else {
            throw .openSSL(.certificate, what, function: "X509_get_subject_name")
        }
        let flags = X509_get_extension_flags(certificate)
        let pathLength = X509_get_pathlen(certificate)

        self.init(
            subject: try X509Text.rfc2253(subjectName),
            commonName: try X509Text.commonName(of: subjectName),
            issuer: try X509Text.rfc2253(issuerName),
            serialNumberHex: try X509Text.serialNumberHex(of: certificate),
            dnsNames: [],
            ipAddresses: [],
            notBefore: try X509Text.secondsSinceEpoch(X509_get0_notBefore(certificate), what: "notBefore"),
            notAfter: try X509Text.secondsSinceEpoch(X509_get0_notAfter(certificate), what: "notAfter"),
            isCA: flags & UInt32(EXFLAG_CA) != 0,
            pathLengthConstraint: pathLength >= 0 ? Int(pathLength) : nil,
            keyUsage: flags & UInt32(EXFLAG_KUSAGE) != 0
                ? KeyUsage(rawValue: X509_get_key_usage(certificate)) : nil,
            extendedKeyUsage: flags & UInt32(EXFLAG_XKUSAGE) != 0
                ? ExtendedKeyUsage(rawValue: X509_get_extended_key_usage(certificate)) : nil,
            sha256Fingerprint: try X509Text.sha256Fingerprint(of: certificate),
            publicKeySHA256: try X509Text.publicKeySHA256(of: certificate)
        )
        (dnsNames, ipAddresses) = X509Text.subjectAlternativeNames(of: certificate)
    }
}

/// Text out of the parts of an X.509 certificate.
enum X509Text {
    static func rfc2253(_ name: OpaquePointer) throws(TLSError) -> String {
        try MemoryBIO.collectText(what: "a certificate name") { bio throws(TLSError) in
            guard X509_NAME_print_ex(bio, name, 0, trellis_XN_FLAG_RFC2253()) >= 0 else {
                throw .openSSL(.certificate, "printing a certificate name", function: "X509_NAME_print_ex")
            }
        }
    }

    static func commonName(of name: OpaquePointer) throws(TLSError) -> String? {
        let index = X509_NAME_get_index_by_NID(name, NID_commonName, -1)
        guard index >= 0 else { return nil }
        guard let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) else {
            throw .openSSL(.certificate, "reading a common name", function: "X509_NAME_get_entry")
        }
        var utf8: UnsafeMutablePointer<UInt8>? = nil
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else {
            throw .openSSL(.certificate, "reading a common name", function: "ASN1_STRING_to_UTF8")
        }
        defer { trellis_OPENSSL_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }

    static func serialNumberHex(of certificate: OpaquePointer) throws(TLSError) -> String {
        guard let serial = X509_get0_serialNumber(certificate),
            let number = ASN1_INTEGER_to_BN(serial, nil)
        else {
            throw .openSSL(.certificate, "reading a serial number", function: "ASN1_INTEGER_to_BN")
        }
        defer { BN_free(number) }
        guard let hex = BN_bn2hex(number) else {
            throw .openSSL(.certificate, "reading a serial number", function: "BN_bn2hex")
        }
        defer { trellis_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    static func secondsSinceEpoch(_ time: UnsafePointer<ASN1_TIME>?, what: String) throws(TLSError) -> Int64 {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else {
            throw .openSSL(.certificate, "reading \(what)", function: "ASN1_TIME_to_tm")
        }
        return Int64(timegm(&parts))
    }

    static func sha256Fingerprint(of certificate: OpaquePointer) throws(TLSError) -> String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(certificate, EVP_sha256(), &digest, &length) == 1 else {
            throw .openSSL(.certificate, "fingerprinting a certificate", function: "X509_digest")
        }
        return Digests.hex(digest.prefix(Int(length)))
    }

    /// Encodes the certificate's own SubjectPublicKeyInfo structure (an ASN.1 template
    /// encoding) rather than the decoded key: the same DER, without OpenSSL 3's encoder
    /// lookups, which cost more than the hash on every handshake that reads a peer.
    static func publicKeySHA256(of certificate: OpaquePointer) throws(TLSError) -> String {
        let what = "encoding a certificate's public key"
        ERR_clear_error()
        guard let info = X509_get_X509_PUBKEY(certificate) else {
            throw .openSSL(.certificate, what, function: "X509_get_X509_PUBKEY")
        }
        let length = i2d_X509_PUBKEY(info, nil)
        guard length > 0 else { throw .openSSL(.certificate, what, function: "i2d_X509_PUBKEY") }
        var der = [UInt8](repeating: 0, count: Int(length))
        let written = der.withUnsafeMutableBufferPointer { buffer in
            // i2d_* writes at *cursor and advances it; the array does not move meanwhile.
            var cursor = buffer.baseAddress
            return i2d_X509_PUBKEY(info, &cursor)
        }
        guard written == length else { throw .openSSL(.certificate, what, function: "i2d_X509_PUBKEY") }
        let digest = der.withUnsafeBytes { bytes in
            Result { () throws(TLSError) in try Digests.sha256Hex(bytes, what: "a public key") }
        }
        return try digest.get()
    }

    /// The DNS names and IP addresses of the subject alternative names, in order.
    static func subjectAlternativeNames(of certificate: OpaquePointer) -> (dns: [String], ip: [String]) {
        guard let raw = X509_get_ext_d2i(certificate, NID_subject_alt_name, nil, nil) else {
            // Absent, or unparseable, which OpenSSL's own verification treats the same way.
            ERR_clear_error()
            return ([], [])
        }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }

        var dns: [String] = []
        var ip: [String] = []
        for index in 0..<trellis_sk_GENERAL_NAME_num(names) {
            var type: Int32 = 0
            guard let name = trellis_sk_GENERAL_NAME_value(names, index),
                let value = GENERAL_NAME_get0_value(name, &type)
            else { continue }
            let string = value.assumingMemoryBound(to: ASN1_STRING.self)
            let bytes = UnsafeRawBufferPointer(
                start: ASN1_STRING_get0_data(string), count: Int(ASN1_STRING_length(string)))
            switch type {
            case GEN_DNS:
                dns.append(String(decoding: bytes, as: UTF8.self))
            case GEN_IPADD:
                if let text = IPAddressText.text(of: bytes) { ip.append(text) }
            default:
                break
            }
        }
        return (dns, ip)
    }
}
