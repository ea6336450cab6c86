import Testing
import TrellisDomain

@Suite("Plans")
struct PlanTests {
    static func resolved(_ resources: [ResourceSpec]) throws -> ResolvedEnvironment {
        let template = Template(name: "t", resources: resources)
        return try Resolver().resolve(noopEnvironment(for: template), template: template, definitions: [])
    }

    static let base = [
        ResourceSpec(name: "db", type: "noop", params: ["outputs": ["url": "x"]]),
        ResourceSpec(name: "api", type: "noop", params: ["command": ["run", "${resources.db.outputs.url}"]]),
    ]

    @Test("everything is created when nothing is applied, in layer order")
    func creates() throws {
        let plan = Plan.diff(desired: try Self.resolved(Self.base), current: [])
        #expect(plan.creates == ["db", "api"])
        #expect(plan.steps.map(\.layer) == [0, 1])
        #expect(plan.hasChanges)
    }

    @Test("what was applied from the same spec is unchanged")
    func unchanged() throws {
        let desired = try Self.resolved(Self.base)
        let plan = Plan.diff(
            desired: desired, current: desired.resources.map { AppliedResource($0, outputs: ["url": "y"]) })
        #expect(plan.unchanged == ["db", "api"])
        #expect(!plan.hasChanges)
    }

    @Test("an update lists the changed type, driver, param paths and dependencies")
    func updates() throws {
        let desired = try Self.resolved(Self.base)
        var api = AppliedResource(desired.resources[1])
        api.type = "process"
        api.driver = "process"
        api.params = ["command": ["run", "old"], "restart": "always"]
        api.dependencies = ["cache"]
        let plan = Plan.diff(desired: desired, current: [AppliedResource(desired.resources[0]), api])
        #expect(
            plan.step(for: "api")?.action
                == .update([
                    .type(from: "process", to: "noop"), .driver(from: "process", to: "noop"),
                    .params(["params.command[1]", "params.restart"]),
                    .dependencies(added: ["db"], removed: ["cache"]),
                ])
        )
        #expect(plan.updates == ["api"])
    }

    @Test("resources no longer desired are deleted, dependents first")
    func deletes() throws {
        let desired = try Self.resolved(Self.base)
        let current =
            desired.resources.map { AppliedResource($0) } + [
                AppliedResource(name: "old-db", type: "noop", driver: "noop"),
                AppliedResource(name: "old-api", type: "noop", driver: "noop", dependencies: ["old-db", "db"]),
                AppliedResource(name: "old-cache", type: "noop", driver: "noop", dependencies: ["old-api"]),
            ]
        let plan = Plan.diff(desired: desired, current: current)
        #expect(plan.deletes == ["old-cache", "old-api", "old-db"])
        #expect(plan.deletionLayers == [["old-cache"], ["old-api"], ["old-db"]])
    }

    @Test("secret outputs are redacted for display")
    func redaction() {
        let applied = AppliedResource(
            name: "db",
            type: "postgres",
            driver: "postgres-database",
            outputs: ["url": "postgres://u:pw@h/db", "host": "h"],
            secretOutputKeys: ["url"]
        )
        #expect(applied.redactedOutputs == ["url": "(secret)", "host": "h"])
    }
}
