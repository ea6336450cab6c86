import Testing
import TrellisStore

@Suite("Join tokens")
struct JoinTokenTests {
    private let secret = String(repeating: "5e", count: 32)
    private let created: Int64 = 1_700_000_000_000

    @Test("a created token reads back unused, whatever the record said about use")
    func createAndRead() async throws {
        try await withStore { (store, _) throws in
            var record = sampleToken("tok-1")
            record.usedAt = 1
            record.usedBy = "someone"
            let result = try await store.write([.createJoinToken(record)])
            #expect(result.outcomes == [.applied])
            #expect(try await store.joinToken(id: "tok-1") == sampleToken("tok-1"))
            #expect(try await store.joinToken(id: "tok-2") == nil)
        }
    }

    @Test("creating a token with a taken id fails with alreadyExists and keeps the first")
    func duplicateId() async throws {
        try await withStore { (store, _) throws in
            try await store.createJoinToken(sampleToken("tok-1"))
            let error = await #expect(throws: StoreError.self) {
                try await store.createJoinToken(sampleToken("tok-1", secretSHA256: "other"))
            }
            #expect(error?.code == .alreadyExists)
            #expect(error?.message == "store: create join token tok-1: already exists")
            #expect(try await store.joinToken(id: "tok-1")?.secretSHA256 == secret)
        }
    }

    @Test("consuming a token marks it used by the agent at the given time")
    func consume() async throws {
        try await withStore { (store, _) throws in
            try await store.createJoinToken(sampleToken("tok-1"))
            let result = try await store.write([
                .consumeJoinToken(id: "tok-1", secretSHA256: secret, agent: "host-1", now: created + 5)
            ])
            #expect(result.outcomes == [.applied])
            var used = sampleToken("tok-1")
            used.usedAt = created + 5
            used.usedBy = "host-1"
            #expect(try await store.joinToken(id: "tok-1") == used)
        }
    }

    @Test(
        "an unknown id and a wrong secret fail alike with tokenUnknown, naming the id and no secret",
        arguments: [("tok-missing", String(repeating: "5e", count: 32)), ("tok-1", String(repeating: "5f", count: 32))])
    func unknown(id: String, presented: String) async throws {
        try await withStore { (store, _) throws in
            try await store.createJoinToken(sampleToken("tok-1"))
            let error = await #expect(throws: StoreError.self) {
                try await store.write([
                    .consumeJoinToken(id: id, secretSHA256: presented, agent: "host-1", now: created + 5)
                ])
            }
            #expect(error?.code == .tokenUnknown)
            #expect(error?.message == "store: consume join token \(id): no such token, or the secret does not match")
            #expect(error?.message.contains(presented) == false)
            #expect(try await store.joinToken(id: "tok-1") == sampleToken("tok-1"))
        }
    }

    @Test("a token is used once: the second consumption fails with tokenUsed and changes nothing")
    func usedTwice() async throws {
        try await withStore { (store, _) throws in
            try await store.createJoinToken(sampleToken("tok-1"))
            try await store.write([.consumeJoinToken(id: "tok-1", secretSHA256: secret, agent: "host-1", now: created)])
            let error = await #expect(throws: StoreError.self) {
                try await store.write([
                    .consumeJoinToken(id: "tok-1", secretSHA256: secret, agent: "host-2", now: created + 1)
                ])
            }
            #expect(error?.code == .tokenUsed)
            #expect(error?.message == "store: consume join token tok-1: already used at \(created)")
            let token = try #require(try await store.joinToken(id: "tok-1"))
            #expect(token.usedBy == "host-1" && token.usedAt == created)
        }
    }

    @Test("a used token presented with a wrong secret reads as unknown, not as used")
    func usedWithWrongSecret() async throws {
        try await withStore { (store, _) throws in
            try await store.createJoinToken(sampleToken("tok-1"))
            try await store.write([.consumeJoinToken(id: "tok-1", secretSHA256: secret, agent: "host-1", now: created)])
            let error = await #expect(throws: StoreError.self) {
                try await store.write([
                    .consumeJoinToken(id: "tok-1", secretSHA256: "guess", agent: "host-2", now: created + 1)
                ])
            }
            #expect(error?.code == .tokenUnknown)
        }
    }

    @Test("a token expires at its expiry time: a millisecond before works, at it fails with tokenExpired")
    func expiry() async throws {
        try await withStore { (store, _) throws in
            let token = sampleToken("tok-1")
            try await store.createJoinToken(token)
            try await store.createJoinToken(sampleToken("tok-2"))

            let error = await #expect(throws: StoreError.self) {
                try await store.write([
                    .consumeJoinToken(id: "tok-1", secretSHA256: secret, agent: "host-1", now: token.expiresAt)
                ])
            }
            #expect(error?.code == .tokenExpired)
            #expect(error?.message == "store: consume join token tok-1: expired at \(token.expiresAt)")
            #expect(try await store.joinToken(id: "tok-1") == token)

            try await store.write([
                .consumeJoinToken(id: "tok-2", secretSHA256: secret, agent: "host-1", now: token.expiresAt - 1)
            ])
            #expect(try await store.joinToken(id: "tok-2")?.usedBy == "host-1")
        }
    }
}
