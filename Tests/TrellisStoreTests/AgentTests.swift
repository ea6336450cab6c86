import Testing
import TrellisStore

@Suite("Agents")
struct AgentTests {
    private let otherKey = String(repeating: "cd", count: 32)

    @Test("a registered agent reads back by name, and agents list in name order")
    func registerAndList() async throws {
        try await withStore { (store, _) throws in
            for name in ["host-c", "host-a", "host-b"] {
                let result = try await store.write([.registerAgent(sampleAgent(name))])
                #expect(result.outcomes == [.applied])
            }
            #expect(try await store.agent(named: "host-a") == sampleAgent("host-a"))
            #expect(try await store.agent(named: "host-z") == nil)
            #expect(try await store.agents().map(\.name) == ["host-a", "host-b", "host-c"])
        }
    }

    @Test("registering again with the same key updates every field but the join time")
    func reregisterSameKey() async throws {
        try await withStore { (store, _) throws in
            try await store.registerAgent(sampleAgent("host-1", joinedAt: 1_000))
            var again = sampleAgent("host-1", joinedAt: 9_000)
            again.labels = #"{"zone":"eu-2"}"#
            again.drivers = #"["process"]"#
            again.capacity = 2
            again.hostname = "renamed.internal"
            again.version = "0.5.0"
            again.lastSeenAt = 9_500
            try await store.registerAgent(again)

            var expected = again
            expected.joinedAt = 1_000
            #expect(try await store.agent(named: "host-1") == expected)
        }
    }

    @Test("a second agent claiming a taken name with another key is refused and changes nothing")
    func nameTakenByAnotherKey() async throws {
        try await withStore { (store, _) throws in
            try await store.registerAgent(sampleAgent("host-1"))
            let error = await #expect(throws: StoreError.self) {
                try await store.registerAgent(sampleAgent("host-1", key: otherKey, joinedAt: 5))
            }
            #expect(error?.code == .alreadyExists)
            #expect(
                error?.message == "store: register agent host-1: already registered with a different public key")
            #expect(try await store.agent(named: "host-1") == sampleAgent("host-1"))
        }
    }

    @Test("touching an agent sets only when it was last seen; a missing agent is not an error")
    func touch() async throws {
        try await withStore { (store, _) throws in
            try await store.registerAgent(sampleAgent("host-1"))
            let result = try await store.write([
                .touchAgent(name: "host-1", lastSeenAt: 1_700_000_060_000),
                .touchAgent(name: "ghost", lastSeenAt: 1_700_000_060_000),
            ])
            #expect(result.outcomes == [.applied, .applied])

            var expected = sampleAgent("host-1")
            expected.lastSeenAt = 1_700_000_060_000
            #expect(try await store.agent(named: "host-1") == expected)
            #expect(try await store.agent(named: "ghost") == nil)
        }
    }

    @Test("deleting an agent removes it and reports whether it existed")
    func delete() async throws {
        try await withStore { (store, _) throws in
            try await store.registerAgent(sampleAgent("host-1"))
            #expect(try await store.write([.deleteAgent(name: "host-1")]).outcomes == [.removed(1)])
            #expect(try await store.deleteAgent(named: "host-1") == false)
            #expect(try await store.agents().isEmpty)
        }
    }
}

@Suite("Joining: token and agent in one batch")
struct JoinBatchTests {
    private let secret = String(repeating: "5e", count: 32)
    private let now: Int64 = 1_700_000_000_500

    private func join(_ agent: AgentRecord, with token: String) -> StoreBatch {
        [.consumeJoinToken(id: token, secretSHA256: secret, agent: agent.name, now: now), .registerAgent(agent)]
    }

    @Test("a join spends the token and registers the agent together")
    func joins() async throws {
        try await withStore { (store, _) throws in
            try await store.createJoinToken(sampleToken("tok-1"))
            let result = try await store.write(join(sampleAgent("host-1"), with: "tok-1"))
            #expect(result.outcomes == [.applied, .applied])
            #expect(try await store.joinToken(id: "tok-1")?.usedBy == "host-1")
            #expect(try await store.agent(named: "host-1") == sampleAgent("host-1"))
        }
    }

    @Test("a join under a name held by another key leaves the token unused")
    func duplicateNameRollsBackToken() async throws {
        try await withStore { (store, _) throws in
            try await store.registerAgent(sampleAgent("host-1"))
            try await store.createJoinToken(sampleToken("tok-1"))

            let error = await #expect(throws: StoreError.self) {
                try await store.write(join(sampleAgent("host-1", key: "intruder"), with: "tok-1"))
            }
            #expect(error?.code == .alreadyExists)
            #expect(try await store.joinToken(id: "tok-1") == sampleToken("tok-1"))
            #expect(try await store.agent(named: "host-1") == sampleAgent("host-1"))

            // The token is still good for the agent it was meant for.
            try await store.write(join(sampleAgent("host-2"), with: "tok-1"))
            #expect(try await store.joinToken(id: "tok-1")?.usedBy == "host-2")
        }
    }

    @Test("pruning removes the tokens used or expired before the cut-off, and only those")
    func prunesEndedTokens() async throws {
        try await withStore { (store, _) throws in
            // Each token is valid for an hour from its creation.
            try await store.createJoinToken(sampleToken("expired-long-ago", createdAt: 1_000_000_000_000))
            try await store.createJoinToken(sampleToken("used-long-ago", createdAt: now - 1_000))
            try await store.createJoinToken(sampleToken("used-lately", createdAt: now - 1_000))
            try await store.createJoinToken(sampleToken("unused", createdAt: now - 1_000))
            try await store.write(join(sampleAgent("host-1"), with: "used-long-ago"))
            try await store.write(
                [.consumeJoinToken(id: "used-lately", secretSHA256: secret, agent: "host-2", now: now + 500)])

            #expect(try await store.pruneJoinTokens(endedBefore: now + 1) == 2)
            #expect(try await store.joinToken(id: "expired-long-ago") == nil)
            #expect(try await store.joinToken(id: "used-long-ago") == nil)
            #expect(try await store.joinToken(id: "used-lately")?.usedBy == "host-2")
            #expect(try await store.joinToken(id: "unused") == sampleToken("unused", createdAt: now - 1_000))
            // The agent that joined with a pruned token stays.
            #expect(try await store.agent(named: "host-1") == sampleAgent("host-1"))
            #expect(try await store.pruneJoinTokens(endedBefore: now + 1) == 0)
        }
    }

    @Test("a join with a spent token registers no agent")
    func spentTokenRegistersNothing() async throws {
        try await withStore { (store, _) throws in
            try await store.createJoinToken(sampleToken("tok-1"))
            try await store.write(join(sampleAgent("host-1"), with: "tok-1"))

            let error = await #expect(throws: StoreError.self) {
                try await store.write(join(sampleAgent("host-2"), with: "tok-1"))
            }
            #expect(error?.code == .tokenUsed)
            #expect(try await store.agents().map(\.name) == ["host-1"])
        }
    }
}
