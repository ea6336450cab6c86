import TrellisAPI
import TrellisDomain
import TrellisLogging
import TrellisRPC
import TrellisStore
import TrellisWire

/// `trellis.v1.AdminService`: join tokens and the agents list.
enum AdminService {
    /// How long a join token lasts when the request gives no time to live.
    static let defaultTokenTTLSeconds: UInt64 = 3600

    static func register(
        into router: inout RPCRouter, hub: AgentHub, store: any StateStore, caFingerprint: String?, logger: Logger
    ) {
        router.register(
            TrellisV1.AdminService.createJoinToken,
            unary: { request, _ in
                guard let caFingerprint else {
                    throw RPCError(
                        .failedPrecondition,
                        "admin: this coordinator signs no agent certificates (start trellisd with --client-ca-key)")
                }
                for key in request.labels.keys where key.isEmpty {
                    throw RPCError(.invalidArgument, "admin: a label needs a key")
                }
                let ttl = request.ttlSeconds == 0 ? defaultTokenTTLSeconds : request.ttlSeconds
                guard ttl <= 365 * 24 * 3600 else {
                    throw RPCError(.invalidArgument, "admin: a join token lasts at most a year")
                }
                let token = JoinToken.generate(caFingerprint: caFingerprint)
                let now = Clock.nowMilliseconds()
                let expires = now + Int64(ttl) * 1000
                try await store.write([
                    .createJoinToken(
                        JoinTokenRecord(
                            id: token.id, secretSHA256: token.secretSHA256, labels: StateCoding.json(request.labels),
                            createdAt: now, expiresAt: expires, usedAt: nil, usedBy: nil))
                ])
                logger.info("join token created", ["token.id": token.id, "expires_at": "\(expires)"])
                return TrellisV1.CreateJoinTokenResponse(token: token.text, id: token.id, expiresAtUnixMs: expires)
            })
        router.register(
            TrellisV1.AdminService.listAgents,
            unary: { _, _ in TrellisV1.ListAgentsResponse(agents: try await hub.statuses()) })
    }
}
