import Foundation
import TrellisStore

/// A fresh temporary directory for one test, removed afterwards.
func withTemporaryDirectory<Result>(_ body: (String) async throws -> Result) async throws -> Result {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("trellis-store-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Opens a store in a fresh temporary directory, runs `body`, closes the store.
func withStore<Result>(_ body: (SQLiteStore, String) async throws -> Result) async throws -> Result {
    try await withTemporaryDirectory { directory in
        let store = try await SQLiteStore.open(directory: directory)
        do {
            let result = try await body(store, directory)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }
}

/// An environment with plausible fields.
func sampleEnvironment(
    _ name: String, phase: String = "Pending", createdAt: Int64 = 1_700_000_000_000, ttlSeconds: Int64? = nil,
    team: String = "identity"
) -> EnvironmentRecord {
    EnvironmentRecord(
        name: name, spec: #"{"template":"backend-service","parameters":{"branch":"main"}}"#,
        templateName: "backend-service", templateVersion: 1, team: team, labels: #"{"type":"preview"}"#,
        phase: phase, createdAt: createdAt, ttlSeconds: ttlSeconds)
}

/// A resource of `environment` with plausible fields.
func sampleResource(_ name: String, in environment: String, phase: String = "Pending") -> ResourceRecord {
    ResourceRecord(
        environment: environment, name: name, type: "noop", driver: "noop", params: #"{"delay":"0s"}"#,
        dependencies: "[]", phase: phase)
}

/// A journal entry of `operation` on `resource`.
func journalDraft(
    _ environment: String, _ resource: String?, _ transition: JournalTransition, operation: String = "apply",
    time: Int64 = 1_700_000_000_000
) -> JournalDraft {
    JournalDraft(
        environment: environment, resource: resource, operation: operation, transition: transition,
        payload: #"{"step":"\#(transition.name)"}"#, time: time)
}

/// An agent with plausible fields.
func sampleAgent(
    _ name: String, key: String = String(repeating: "ab", count: 32), joinedAt: Int64 = 1_700_000_000_000
) -> AgentRecord {
    AgentRecord(
        name: name, publicKeySHA256: key, labels: #"{"zone":"eu-1"}"#, drivers: #"["process","file"]"#,
        capacity: 8, hostname: "\(name).internal", version: "0.4.0", joinedAt: joinedAt, lastSeenAt: joinedAt)
}

/// An unused join token created at `createdAt`, valid for an hour.
func sampleToken(
    _ id: String, secretSHA256: String = String(repeating: "5e", count: 32), createdAt: Int64 = 1_700_000_000_000
) -> JoinTokenRecord {
    JoinTokenRecord(
        id: id, secretSHA256: secretSHA256, labels: #"{"pool":"ci"}"#, createdAt: createdAt,
        expiresAt: createdAt + 3_600_000)
}
