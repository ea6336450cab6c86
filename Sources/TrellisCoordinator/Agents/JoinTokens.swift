import TrellisDrivers

/// Join tokens: `<id>.<secret>.<fingerprint>`.
///
/// The id names the token in the store and in messages; only the SHA-256 of the secret is
/// stored, so the store cannot hand out usable tokens. The fingerprint is the SHA-256 of
/// the CA certificate (DER): an agent checks the CA it is given against it before it
/// sends the token anywhere.
struct JoinToken: Sendable, Hashable {
    var id: String
    var secret: String
    var fingerprint: String

    var text: String { "\(id).\(secret).\(fingerprint)" }
    var secretSHA256: String { SHA256.hexDigest(of: Array(secret.utf8)) }

    /// A new token with a random id (8 hex digits) and secret (32 hex digits).
    static func generate(fingerprint: String) -> JoinToken {
        var generator = SystemRandomNumberGenerator()
        let id = hex(UInt64(generator.next() as UInt32), digits: 8)
        let secret = hex(generator.next(), digits: 16) + hex(generator.next(), digits: 16)
        return JoinToken(id: id, secret: secret, fingerprint: fingerprint)
    }

    /// Parses a token; nil when it does not have the form.
    init?(parsing text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isHexDigit) }) else { return nil }
        self.init(id: parts[0], secret: parts[1], fingerprint: parts[2])
    }

    init(id: String, secret: String, fingerprint: String) {
        self.id = id
        self.secret = secret
        self.fingerprint = fingerprint
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}

/// Agent names: what a certificate's common name and every listing carry.
enum AgentName {
    /// Why `name` is not a valid agent name, or nil when it is: lower-case letters,
    /// digits, `-` and `.`, starting with a letter or digit, at most 63 characters.
    static func problem(_ name: String) -> String? {
        guard !name.isEmpty else { return "an agent name cannot be empty" }
        guard name.utf8.count <= 63 else { return "agent name \(name) is longer than 63 characters" }
        let allowed = name.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "."
        }
        guard allowed, let first = name.unicodeScalars.first, first != "-", first != "." else {
            return "agent name \(name) must be lower-case letters, digits, '-' and '.', starting with a letter or digit"
        }
        return nil
    }
}
