import Foundation
import Testing
import TrellisDomain

@Suite("The examples")
struct ExampleTests {
    static func read(_ name: String) throws -> [SpecDocument] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../examples/\(name)")
        let bytes = try [UInt8](Data(contentsOf: url))
        return try SpecDecoder().decode(bytes, file: name)
    }

    static func resolve(_ documents: [SpecDocument]) throws -> ResolvedEnvironment {
        var templates: [String: Template] = [:]
        var definitions: [ResourceDefinition] = []
        var environments: [Environment] = []
        for document in documents {
            switch document.object {
            case .template(let template): templates[template.name] = template
            case .resourceDefinition(let definition): definitions.append(definition)
            case .environment(let environment): environments.append(environment)
            }
        }
        let environment = try #require(environments.first)
        let template = try #require(templates[environment.template.name])
        return try Resolver().resolve(environment, template: template, definitions: definitions)
    }

    @Test("the noop graph resolves into four layers of noop resources with outputs flowing through")
    func quickstart() throws {
        let resolved = try Self.resolve(try Self.read("noop-graph.yaml"))
        #expect(resolved.layers == [["seed"], ["network", "database"], ["service"], ["smoke-test"]])
        #expect(resolved.resources.allSatisfy { $0.driver == "noop" })
        #expect(resolved.resources[0].params["outputs"] == ["id": "seed-1", "greeting": "hi"])
        #expect(resolved.resources[0].params["delay"] == "300ms")

        let outputs: [String: SpecMap] = [
            "seed": ["id": "seed-1", "greeting": "hi"], "network": ["cidr": "10.0.0.0/24"],
            "database": ["url": "postgres://db"],
        ]
        let service = try Substitution.substitute(resolved.resources[3].params, outputs: outputs)
        #expect(service["outputs"]?.mapValue?["banner"] == "hi, world")
        #expect(service["outputs"]?.mapValue?["config"] == "DATABASE_URL=postgres://db")
    }

    @Test("the backend-service example picks the dev database definition")
    func backendService() throws {
        let resolved = try Self.resolve(try Self.read("backend-service.yaml"))
        #expect(resolved.layers == [["port", "db"], ["config"], ["api"]])
        #expect(resolved.resources[1].definition == "postgres-local-dev")
        #expect(resolved.resources[1].params["name"] == "auth_auth_redesign")
        #expect(resolved.resources[3].placement == ["agent": ["region": "local"]])
    }
}
