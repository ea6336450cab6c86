/// The DNS names and IP addresses a certificate is issued for.
public struct SubjectAlternativeNames: Sendable, Equatable {
    /// DNS names, e.g. `localhost` or `*.agents.example.com`.
    public var dnsNames: [String]
    /// IPv4 or IPv6 addresses in text form, e.g. `127.0.0.1` or `::1`.
    public var ipAddresses: [String]

    /// Creates a set of names; they are checked when a certificate is issued.
    public init(dnsNames: [String] = [], ipAddresses: [String] = []) {
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
    }

    /// `localhost` and `127.0.0.1`, the names of a development coordinator.
    public static let localhost = SubjectAlternativeNames(dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"])

    /// The names as an OpenSSL `subjectAltName` value, after checking each one.
    ///
    /// Checking also keeps the configuration syntax safe: a DNS name holds only letters,
    /// digits, hyphens, dots and a leading `*.`, and an address is re-printed canonically.
    func extensionValue() throws(TLSError) -> String {
        guard !dnsNames.isEmpty || !ipAddresses.isEmpty else {
            throw TLSError(code: .certificate, message: "tls: a certificate needs at least one DNS name or IP address")
        }
        var entries: [String] = []
        for name in dnsNames {
            guard Self.isValidDNSName(name, allowWildcard: true) else {
                throw TLSError(code: .certificate, message: "tls: \"\(name)\" is not a valid DNS name")
            }
            entries.append("DNS:\(name)")
        }
        for address in ipAddresses {
            guard let bytes = IPAddressText.bytes(of: address),
                let canonical = bytes.withUnsafeBytes({ IPAddressText.text(of: $0) })
            else {
                throw TLSError(code: .certificate, message: "tls: \"\(address)\" is not an IP address")
            }
            entries.append("IP:\(canonical)")
        }
        return entries.joined(separator: ",")
    }

    /// Whether `name` is a DNS name of letters, digits and hyphens in dot-separated labels
    /// of at most 63 bytes, at most 253 bytes in all; `*` may form the leftmost label.
    static func isValidDNSName(_ name: String, allowWildcard: Bool) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 253 else { return false }
        let labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            if allowWildcard, index == 0, labels.count > 2, label.elementsEqual([UInt8(ascii: "*")]) {
                continue
            }
            guard (1...63).contains(label.count),
                label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-"),
                label.allSatisfy({ isLetterOrDigit($0) || $0 == UInt8(ascii: "-") })
            else { return false }
        }
        return true
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
}
