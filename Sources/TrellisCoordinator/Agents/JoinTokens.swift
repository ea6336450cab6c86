import TrellisDomain
import TrellisDrivers

extension JoinToken {
    /// What the store keeps of the secret.
    var secretSHA256: String { SHA256.hexDigest(of: Array(secret.utf8)) }
}
