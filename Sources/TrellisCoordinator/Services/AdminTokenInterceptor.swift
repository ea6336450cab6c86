import TrellisRPC
import TrellisWire

/// Admits calls that carry the admin bearer token; methods of exempt services need none.
///
/// Token comparison takes the same time whatever the first differing byte, so timing does
/// not reveal how much of a guess was right.
public struct AdminTokenInterceptor: RPCInterceptor {
    private let token: [UInt8]
    private let exemptPrefixes: [String]

    /// - Parameter exemptServices: fully qualified service names callable without a token.
    public init(token: String, exemptServices: [String]) {
        self.token = Array(token.utf8)
        self.exemptPrefixes = exemptServices.map { "/\($0)/" }
    }

    public func intercept(_ context: inout ServerCallContext) async throws {
        if exemptPrefixes.contains(where: { context.method.hasPrefix($0) }) { return }
        guard let presented = context.bearerToken else {
            throw RPCError(
                .unauthenticated, "auth: \(context.method) needs a bearer token (authorization: Bearer TOKEN)")
        }
        guard Self.constantTimeEqual(Array(presented.utf8), token) else {
            throw RPCError(.unauthenticated, "auth: the bearer token is not valid")
        }
        context.principal = "admin"
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
