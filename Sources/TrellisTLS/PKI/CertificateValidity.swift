import Glibc

/// The period a certificate is valid for, in seconds since the Unix epoch.
public struct CertificateValidity: Sendable, Equatable {
    /// The first second of validity.
    public var notBefore: Int64
    /// The last second of validity.
    public var notAfter: Int64

    /// How far back new certificates start, so that a peer whose clock runs a little
    /// behind does not see them as not yet valid.
    public static let clockSkewAllowance: Int64 = 5 * 60

    /// Creates an explicit period; `notAfter` may lie in the past (expired certificates
    /// for tests).
    ///
    /// - Precondition: `notBefore <= notAfter`.
    public init(notBefore: Int64, notAfter: Int64) {
        precondition(notBefore <= notAfter, "a validity period cannot end before it starts")
        self.notBefore = notBefore
        self.notAfter = notAfter
    }

    /// A period of `days` days starting ``clockSkewAllowance`` before `now`.
    public static func days(_ days: Int, from now: Int64 = currentTime()) -> CertificateValidity {
        let start = now - clockSkewAllowance
        return CertificateValidity(notBefore: start, notAfter: start + Int64(days) * 86_400)
    }

    /// 90 days, Mozilla's recommended lifespan for server and client certificates.
    public static var leafDefault: CertificateValidity { .days(90) }

    /// 10 years, for a certificate authority.
    public static var authorityDefault: CertificateValidity { .days(3_650) }

    /// The current time in seconds since the Unix epoch.
    public static func currentTime() -> Int64 {
        Int64(time(nil))
    }
}
