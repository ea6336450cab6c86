/// A join token as `trellis join-token create` prints it: `<id>.<secret>.<fingerprint>`.
///
/// The fingerprint is ``TrellisTLS/Certificate/fingerprintSHA256`` of the coordinator's
/// CA, so that an agent can check the CA it is given over an unverified connection before
/// it sends the secret anywhere.
public struct JoinToken: Sendable, Hashable, CustomStringConvertible {
    /// The token's id, which the coordinator's messages name.
    public var id: String
    /// The secret part.
    public var secret: String
    /// The SHA-256 fingerprint of the coordinator's CA certificate, lower-case hex.
    public var caFingerprint: String

    /// The token as sent to the coordinator.
    public var text: String { "\(id).\(secret).\(caFingerprint)" }

    /// Parses `<id>.<secret>.<fingerprint>`; the fingerprint is 64 hex digits.
    ///
    /// - Throws: ``AgentError`` with code `.configuration` naming what is wrong.
    public init(parsing text: String) throws(AgentError) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw AgentError(.configuration, "--join-token: expected ID.SECRET.FINGERPRINT")
        }
        let fingerprint = parts[2].lowercased()
        guard fingerprint.utf8.count == 64, fingerprint.utf8.allSatisfy(Self.isHexDigit) else {
            throw AgentError(
                .configuration, "--join-token: the fingerprint (after the last '.') is not 64 hex digits")
        }
        id = String(parts[0])
        secret = String(parts[1])
        caFingerprint = fingerprint
    }

    /// The id only: the secret never appears in logs or messages.
    public var description: String { "join token \(id)" }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }
}
