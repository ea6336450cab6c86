import Foundation
import Testing
import TrellisLogging
import TrellisStore
import TrellisTestSupport

@testable import TrellisCoordinator

@Suite("Pruning ended join tokens")
struct JoinTokenPruningTests {
    private let day: Int64 = 86_400_000

    private func token(_ id: String, createdAt: Int64, lifetime: Int64) -> JoinTokenRecord {
        JoinTokenRecord(
            id: id, secretSHA256: String(repeating: "ab", count: 32), labels: "{}", createdAt: createdAt,
            expiresAt: createdAt + lifetime, usedAt: nil, usedBy: nil)
    }

    @Test("the hub removes tokens that ended over a week ago, on start and then hourly, and keeps the rest")
    func prunesOnStartAndHourly() async throws {
        let store = try await SQLiteStore.open(directory: Scratch.directory("join-tokens"))
        let now = Clock.nowMilliseconds()
        try await store.createJoinToken(token("expired-8-days-ago", createdAt: now - 9 * day, lifetime: day))
        try await store.createJoinToken(token("expired-yesterday", createdAt: now - 2 * day, lifetime: day))
        try await store.createJoinToken(token("valid", createdAt: now, lifetime: day))
        let hub = AgentHub(
            store: store, heartbeatInterval: .seconds(5), grace: .seconds(15), observeInterval: .seconds(30),
            logger: Logger(label: "agents", sink: MemoryLogSink()))

        try await hub.start(observers: AgentHub.Observers())
        let pruned = try await eventually(timeout: .seconds(30)) {
            try await store.joinToken(id: "expired-8-days-ago") == nil
        }
        #expect(pruned)
        #expect(try await store.joinToken(id: "expired-yesterday") != nil)
        #expect(try await store.joinToken(id: "valid") != nil)

        // The next pruning comes an hour after the last one.
        let minute: Int64 = 60_000
        try await store.createJoinToken(token("expired-9-days-ago", createdAt: now - 10 * day, lifetime: day))
        await hub.pruneJoinTokensWhenDue(now: now + 30 * minute)
        #expect(try await store.joinToken(id: "expired-9-days-ago") != nil)
        await hub.pruneJoinTokensWhenDue(now: now + 61 * minute)
        #expect(try await store.joinToken(id: "expired-9-days-ago") == nil)
        #expect(try await store.joinToken(id: "expired-yesterday") != nil)
        // A week after its end, yesterday's token goes too; the valid one is not a week past its end.
        await hub.pruneJoinTokensWhenDue(now: now + 6 * day + 2 * minute)
        #expect(try await store.joinToken(id: "expired-yesterday") == nil)
        #expect(try await store.joinToken(id: "valid") != nil)
        await hub.stop()
        await store.close()
    }
}
