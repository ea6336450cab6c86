import Testing
import TrellisDomain

@Suite("Resolving environments")
struct ResolutionTests {
    static let backend = Template(
        name: "backend-service",
        parameters: [
            TemplateParameter(name: "branch", type: .string, isRequired: true),
            TemplateParameter(name: "replicas", type: .int, defaultValue: 2),
        ],
        resources: [
            ResourceSpec(name: "port", type: "port"),
            ResourceSpec(name: "db", type: "postgres", params: ["name": "auth_${params.branch}"]),
            ResourceSpec(
                name: "config",
                type: "file",
                params: ["content": "URL=${resources.db.outputs.url}\nPORT=${resources.port.outputs.port}\n"]
            ),
            ResourceSpec(
                name: "api",
                type: "process",
                params: ["command": ["run", "--replicas", "${params.replicas}"], "restart": "always"],
                dependsOn: ["config"]
            ),
        ],
        origin: SpecOrigin(file: "app.yaml", document: 1)
    )

    static let definitions = [
        ResourceDefinition(
            name: "pg-shared", type: "postgres", driver: "postgres-database", params: ["server": "shared"]),
        ResourceDefinition(
            name: "pg-dev",
            type: "postgres",
            driver: "postgres-database",
            params: ["server": "local", "owner": "${params.branch}"],
            match: DefinitionMatch(environmentType: "dev")
        ),
        ResourceDefinition(
            name: "pg-identity-dev",
            type: "postgres",
            driver: "postgres-database",
            params: ["server": "identity"],
            match: DefinitionMatch(environmentType: "dev", team: "identity")
        ),
    ]

    static func environment(
        team: String? = nil,
        labels: [String: String] = [:],
        parameters: SpecMap = ["branch": "auth"]
    ) -> Environment {
        Environment(
            name: "feature",
            team: team,
            labels: labels,
            template: TemplateReference(name: "backend-service"),
            parameters: parameters,
            placement: ["agent": ["region": "local"]],
            origin: SpecOrigin(file: "env.yaml", document: 2)
        )
    }

    @Test("parameters are substituted, defaults applied, resource placeholders kept as edges")
    func resolvesBackend() throws {
        let resolved = try Resolver().resolve(
            Self.environment(labels: ["type": "dev"]),
            template: Self.backend,
            definitions: Self.definitions
        )
        #expect(resolved.parameters == ["branch": "auth", "replicas": 2])
        let db = resolved.resources[1]
        #expect(db.driver == "postgres-database")
        #expect(db.definition == "pg-dev")
        #expect(db.params == ["server": "local", "owner": "auth", "name": "auth_auth"])
        let config = resolved.resources[2]
        #expect(config.dependencies == ["db", "port"])
        #expect(config.params["content"] == "URL=${resources.db.outputs.url}\nPORT=${resources.port.outputs.port}\n")
        #expect(resolved.resources[3].params["command"] == ["run", "--replicas", 2])
        #expect(resolved.resources[3].placement == ["agent": ["region": "local"]])
        #expect(resolved.layers == [["port", "db"], ["config"], ["api"]])
        #expect(resolved.reverseLayers == [["api"], ["config"], ["port", "db"]])
    }

    @Test("the most specific matching definition wins; one without criteria is the fallback")
    func definitionSpecificity() throws {
        let cases: [(Environment, String)] = [
            (Self.environment(), "pg-shared"),
            (Self.environment(labels: ["type": "dev"]), "pg-dev"),
            (Self.environment(team: "identity", labels: ["type": "dev"]), "pg-identity-dev"),
            (Self.environment(team: "identity", labels: ["type": "prod"]), "pg-shared"),
        ]
        for (environment, expected) in cases {
            let resolved = try Resolver().resolve(environment, template: Self.backend, definitions: Self.definitions)
            #expect(resolved.resources[1].definition == expected)
        }
    }

    @Test("a tie among the most specific definitions is an error naming them")
    func definitionTie() {
        let definitions =
            Self.definitions + [
                ResourceDefinition(
                    name: "pg-eu",
                    type: "postgres",
                    driver: "postgres-database",
                    match: DefinitionMatch(environmentLabels: ["region": "eu"])
                )
            ]
        let errors = resolutionErrors(
            Self.environment(labels: ["type": "dev", "region": "eu"]), Self.backend, definitions)
        #expect(
            errors.map(\.description) == [
                #"app.yaml: document 1 (Template backend-service): spec.resources.db.type: resource definitions "pg-dev", "pg-eu" for type "postgres" match environment "feature" equally well"#
            ]
        )
        #expect(errors.first?.code == .ambiguousDefinition)
    }

    @Test("a type with no definition is an error, built-in types need none")
    func noDefinition() {
        let errors = resolutionErrors(Self.environment(), Self.backend, [])
        #expect(
            errors.map(\.description) == [
                #"app.yaml: document 1 (Template backend-service): spec.resources.db.type: no resource definition for type "postgres" matches environment "feature", and it is not a built-in type"#
            ]
        )
    }

    @Test("parameter errors name the environment's document and path")
    func parameterErrors() {
        let environment = Self.environment(parameters: ["replicas": "three", "colour": "blue"])
        let errors = resolutionErrors(environment, Self.backend, Self.definitions)
        #expect(
            errors.map(\.description) == [
                #"env.yaml: document 2 (Environment feature): spec.parameters.replicas: parameter "replicas" is of type int, found string"#,
                #"env.yaml: document 2 (Environment feature): spec.parameters.colour: unknown parameter "colour"; template "backend-service" has "branch", "replicas""#,
                #"env.yaml: document 2 (Environment feature): spec.parameters: missing required parameter "branch""#,
            ]
        )
        #expect(errors.map(\.code) == [.wrongType, .unknownParameter, .missingParameter])
    }

    @Test("dependencies from the environment join the graph; a name clash is an error")
    func environmentDependencies() throws {
        var environment = Self.environment()
        environment.dependencies = [
            ResourceSpec(name: "cache", type: "noop", params: ["outputs": ["of": "${resources.api.outputs.pid}"]])
        ]
        let resolved = try Resolver().resolve(environment, template: Self.backend, definitions: Self.definitions)
        #expect(resolved.layers.last == ["cache"])
        #expect(resolved.resources.last?.source == .environment)

        environment.dependencies.append(ResourceSpec(name: "db", type: "noop", dependsOn: ["nope"]))
        let errors = resolutionErrors(environment, Self.backend, Self.definitions)
        #expect(
            errors.map(\.description) == [
                #"env.yaml: document 2 (Environment feature): spec.dependencies.db: resource "db" is already defined by template "backend-service""#
            ]
        )
    }

    @Test("unknown resources in placeholders and dependsOn of dependencies are errors with paths")
    func unknownResources() {
        var environment = Self.environment()
        environment.dependencies = [
            ResourceSpec(
                name: "cache", type: "noop", params: ["x": ["${resources.confg.outputs.a}"]], dependsOn: ["db", "dbb"])
        ]
        let errors = resolutionErrors(environment, Self.backend, Self.definitions)
        #expect(errors.map(\.path) == ["spec.dependencies.cache.params.x[0]", "spec.dependencies.cache.dependsOn[1]"])
        #expect(
            errors.map(\.message) == [
                #"unknown resource "confg" in ${resources.confg.outputs.a}"#, #"unknown resource "dbb""#,
            ])
    }

    @Test("the environment must name the template it is resolved with")
    func templateMismatch() {
        var environment = Self.environment()
        environment.template = TemplateReference(name: "backend-service", version: 4)
        let errors = resolutionErrors(environment, Self.backend, Self.definitions)
        #expect(errors.map(\.code) == [.templateMismatch])
        #expect(errors.first?.path == "spec.template.version")
    }

    @Test(
        "cycles are rejected naming the whole cycle from the first declared",
        arguments: [
            ([("a", ["a"])], "a -> a"),
            ([("a", ["b"]), ("b", ["a"])], "a -> b -> a"),
            ([("x", ["c"]), ("c", ["a"]), ("a", ["b"]), ("b", ["c"])], "c -> a -> b -> c"),
            ([("a", ["b"]), ("b", ["c"]), ("c", ["a"]), ("d", ["a"])], "a -> b -> c -> a"),
        ]
    )
    func cycles(resources: [(String, [String])], cycle: String) {
        let template = noopTemplate(resources)
        let errors = resolutionErrors(noopEnvironment(for: template), template)
        #expect(errors.map(\.code) == [.dependencyCycle])
        #expect(errors.first?.message == "dependency cycle: \(cycle)")
    }

    @Test("a diamond layers into three, each resource after all its dependencies")
    func diamond() throws {
        let template = noopTemplate([
            ("top", ["left", "right"]), ("left", ["base"]), ("right", ["base"]), ("base", []),
        ])
        let resolved = try Resolver().resolve(noopEnvironment(for: template), template: template, definitions: [])
        #expect(resolved.layers == [["base"], ["left", "right"], ["top"]])
    }

    @Test("a resource goes in the earliest layer after its latest dependency")
    func earliestLayer() throws {
        let template = noopTemplate([("a", []), ("b", ["a"]), ("c", ["b"]), ("d", ["a"]), ("e", ["c", "d"])])
        let resolved = try Resolver().resolve(noopEnvironment(for: template), template: template, definitions: [])
        #expect(resolved.layers == [["a"], ["b", "d"], ["c"], ["e"]])
        #expect(resolved.graph.layerOfNode == [0, 1, 2, 1, 3])
    }

    @Test("the critical path is the longest chain of durations")
    func criticalPath() throws {
        let template = noopTemplate([("a", []), ("slow", ["a"]), ("fast", ["a"]), ("end", ["slow", "fast"])])
        let resolved = try Resolver().resolve(noopEnvironment(for: template), template: template, definitions: [])
        let durations: [String: Duration] = [
            "a": .milliseconds(10), "slow": .milliseconds(50), "fast": .milliseconds(5), "end": .milliseconds(1),
        ]
        let path = resolved.criticalPath { durations[$0.name]! }
        #expect(path.duration == .milliseconds(61))
        #expect(path.path == ["a", "slow", "end"])
    }

    struct DenyProcesses: AdmissionStep {
        func admit(_ environment: inout ResolvedEnvironment) -> [SpecError] {
            environment.resources.filter { $0.type == "process" }.map {
                SpecError(
                    file: "policy", path: "spec.resources.\($0.name)", code: .denied,
                    message: "processes are not allowed")
            }
        }
    }

    @Test("admission steps run after resolution and can deny")
    func admission() {
        let resolver = Resolver(admissionSteps: [DenyProcesses()])
        #expect(throws: SpecErrors.self) {
            try resolver.resolve(Self.environment(), template: Self.backend, definitions: Self.definitions)
        }
    }

    @Test("more resources than the limit are rejected before any other work")
    func resourceLimit() {
        let template = noopTemplate([("a", []), ("b", [])])
        #expect(throws: SpecErrors.self) {
            try Resolver(limits: SpecLimits(maxResources: 1)).resolve(
                noopEnvironment(for: template), template: template, definitions: [])
        }
    }
}
