/// A join token as `trellis join-token create` prints it: `<id>.<secret>.<fingerprint>`.
///
/// The id names the token in the coordinator's store and in messages; only a hash of the
/// secret is stored. The fingerprint is the lower-case hex SHA-256 of the coordinator's CA
/// certificate (DER), so that a joining agent can check the CA it is given over an
/// unverified connection before it sends the secret anywhere.
public struct JoinToken: Sendable, Hashable, CustomStringConvertible {
    /// Why a text is not a join token.
    public struct FormatError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    /// The token's id, which messages name.
    public var id: String
    /// The secret part.
    public var secret: String
    /// The SHA-256 fingerprint of the coordinator's CA certificate, lower-case hex.
    public var caFingerprint: String

    public init(id: String, secret: String, caFingerprint: String) {
        self.id = id
        self.secret = secret
        self.caFingerprint = caFingerprint
    }

    /// Parses `<id>.<secret>.<fingerprint>`: id and secret non-empty, the fingerprint 64
    /// hex digits (either case).
    public init(parsing text: String) throws(FormatError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw FormatError(description: "expected ID.SECRET.FINGERPRINT")
        }
        let fingerprint = parts[2].lowercased()
        guard fingerprint.utf8.count == 64, fingerprint.utf8.allSatisfy(Self.isHexDigit) else {
            throw FormatError(description: "the fingerprint (after the last '.') is not 64 hex digits")
        }
        self.init(id: parts[0], secret: parts[1], caFingerprint: fingerprint)
    }

    /// A new token with a random id (8 hex digits) and secret (32 hex digits).
    public static func generate(caFingerprint: String) -> JoinToken {
        var generator = SystemRandomNumberGenerator()
        let id = hex(UInt64(generator.next() as UInt32), digits: 8)
        let secret = hex(generator.next(), digits: 16) + hex(generator.next(), digits: 16)
        return JoinToken(id: id, secret: secret, caFingerprint: caFingerprint)
    }

    /// The token as printed and sent.
    public var text: String { "\(id).\(secret).\(caFingerprint)" }

    /// The id only: the secret never appears in logs or messages.
    public var description: String { "join token \(id)" }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
