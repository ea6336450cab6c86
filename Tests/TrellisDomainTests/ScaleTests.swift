import Testing
import TrellisDomain

// Serialized: each test holds a few hundred MB, and its printed time should not include the others'.
@Suite("Graphs of 100,000 resources", .serialized)
struct ScaleTests {
    static let count = 100_000

    /// One root and every other resource consuming its output: two layers.
    static func wide() -> Template {
        var resources = [ResourceSpec(name: "root", type: "noop", params: ["outputs": ["value": "v"]])]
        for index in 1..<count {
            resources.append(
                ResourceSpec(
                    name: "r\(index)", type: "noop", params: ["outputs": ["value": "${resources.root.outputs.value}"]])
            )
        }
        return Template(name: "wide", resources: resources)
    }

    /// A chain: each resource consumes the previous one's output.
    static func deep() -> Template {
        var resources = [ResourceSpec(name: "r0", type: "noop", params: ["outputs": ["value": "${params.seed}"]])]
        for index in 1..<count {
            resources.append(
                ResourceSpec(
                    name: "r\(index)",
                    type: "noop",
                    params: ["outputs": ["value": "${resources.r\(index - 1).outputs.value}-x"]]
                )
            )
        }
        return Template(
            name: "deep",
            parameters: [TemplateParameter(name: "seed", type: .string, defaultValue: "s")],
            resources: resources
        )
    }

    /// Resolves and plans `template` against a state where every tenth resource differs,
    /// returning the plan and the seconds taken.
    static func resolveAndPlan(_ template: Template) throws -> (ResolvedEnvironment, Plan, Double) {
        let clock = ContinuousClock()
        let environment = noopEnvironment(for: template)
        var current: [AppliedResource] = []
        let start = clock.now
        let resolved = try Resolver().resolve(environment, template: template, definitions: [])
        let resolvedAt = clock.now
        current = resolved.resources.enumerated().compactMap { index, resource in
            if index % 10 == 5 { return nil }
            var applied = AppliedResource(resource)
            if index % 10 == 3 { applied.params["outputs"] = ["value": "old"] }
            return applied
        }
        current.append(AppliedResource(name: "gone", type: "noop", driver: "noop"))
        let planStart = clock.now
        let plan = Plan.diff(desired: resolved, current: current)
        let end = clock.now
        let seconds = { (duration: Duration) in
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
        print(
            "\(template.name): \(count) resources: resolve \(seconds(resolvedAt - start))s, plan \(seconds(end - planStart))s"
        )
        return (resolved, plan, seconds(resolvedAt - start) + seconds(end - planStart))
    }

    @Test("a wide graph resolves into two layers and plans every kind of action")
    func wideGraph() throws {
        let (resolved, plan, _) = try Self.resolveAndPlan(Self.wide())
        #expect(resolved.layers.count == 2)
        #expect(resolved.layers[0] == ["root"])
        #expect(resolved.layers[1].count == Self.count - 1)
        #expect(plan.creates.count == Self.count / 10)
        #expect(plan.updates.count == Self.count / 10)
        #expect(plan.unchanged.count == Self.count - Self.count / 5)
        #expect(plan.deletes == ["gone"])
    }

    @Test("a 100,000-deep chain resolves into one layer per resource without recursion")
    func deepChain() throws {
        let (resolved, plan, _) = try Self.resolveAndPlan(Self.deep())
        #expect(resolved.layers.count == Self.count)
        #expect(resolved.layers.last == ["r\(Self.count - 1)"])
        #expect(resolved.resources[0].params["outputs"] == ["value": "s"])
        #expect(resolved.resources[7].dependencies == ["r6"])
        #expect(plan.step(for: "r99999")?.layer == Self.count - 1)
        #expect(plan.updates.count == Self.count / 10)
        let path = resolved.criticalPath { _ in .milliseconds(1) }
        #expect(path.path.count == Self.count)
        #expect(path.duration == .milliseconds(Self.count))
    }

    @Test("a 100,000-deep cycle is found and named without recursion")
    func deepCycle() {
        var template = Self.deep()
        template.resources[0].dependsOn = ["r\(Self.count - 1)"]
        let errors = resolutionErrors(noopEnvironment(for: template), template)
        #expect(errors.map(\.code) == [.dependencyCycle])
        #expect(errors.first?.message.hasPrefix("dependency cycle: r0 -> r99999 -> r99998") == true)
    }
}
