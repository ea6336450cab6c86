import Foundation
import Testing
import TrellisDomain

@Suite("Reading spec documents")
struct SpecParsingTests {
    static let template = """
        apiVersion: trellis.dev/v1
        kind: Template
        metadata:
          name: backend-service
          version: 3
        spec:
          parameters:
            branch: {type: string, required: true}
            replicas: {type: int, default: 2}
          resources:
            port: {type: port}
            api:
              type: process
              dependsOn: [port]
              params:
                command: ["python3", "service.py", "--port", "${resources.port.outputs.port}"]
                restart: always
        """

    @Test("a template reads with its version, parameters and resources in order")
    func template() throws {
        let template = try decodeTemplate(Self.template)
        #expect(template.name == "backend-service")
        #expect(template.version == 3)
        #expect(template.parameters.map(\.name) == ["branch", "replicas"])
        #expect(template.parameter(named: "branch")?.isRequired == true)
        #expect(template.parameter(named: "replicas")?.defaultValue == 2)
        #expect(template.resources.map(\.name) == ["port", "api"])
        let api = template.resources[1]
        #expect(api.type == "process")
        #expect(api.dependsOn == ["port"])
        #expect(api.params["command"] == ["python3", "service.py", "--port", "${resources.port.outputs.port}"])
        #expect(template.origin.file == "app.yaml")
        #expect(template.origin.document == 1)
    }

    @Test("the version defaults to 1")
    func defaultVersion() throws {
        let template = try decodeTemplate(
            "apiVersion: trellis.dev/v1\nkind: Template\nmetadata: {name: t}\nspec: {resources: {a: {type: noop}}}"
        )
        #expect(template.version == 1)
    }

    @Test("several documents separated by --- read in order, empty ones skipped")
    func multipleDocuments() throws {
        let text = """
            apiVersion: trellis.dev/v1
            kind: ResourceDefinition
            metadata: {name: pg-dev}
            spec: {type: postgres, driver: postgres-database, match: {environmentType: dev}}
            ---
            ---
            apiVersion: trellis.dev/v1
            kind: Environment
            metadata: {name: feature-x, team: identity, labels: {type: dev}}
            spec:
              template: {name: backend-service, version: 2}
              ttl: 1h30m
              reconcile: report
            """
        let documents = try SpecDecoder().decode(text, file: "all.yaml")
        #expect(documents.map(\.index) == [1, 3])
        #expect(documents.map(\.object.kind) == ["ResourceDefinition", "Environment"])
        guard case .environment(let environment) = documents[1].object else {
            Issue.record("not an environment")
            return
        }
        #expect(environment.team == "identity")
        #expect(environment.labels == ["type": "dev"])
        #expect(environment.template == TemplateReference(name: "backend-service", version: 2))
        #expect(environment.ttl == .seconds(5400))
        #expect(environment.reconcile == .report)
    }

    @Test("JSON reads through the same parser, strings and numbers exactly")
    func json() throws {
        let text = #"""
            {"apiVersion":"trellis.dev/v1","kind":"Template","metadata":{"name":"t"},
             "spec":{"resources":{"a":{"type":"noop","params":{
               "text":"caf\u00e9 \ud83d\ude00 \"q\" \/ \t","int":-12,"exp":1e3,"frac":0.25,
               "big":1.5E+10,"zero":-0,"yes":"yes","t":true,"n":null,"s":"123"}}}}}
            """#
        let params = try decodeTemplate(text).resources[0].params
        #expect(params["text"] == .string("café 😀 \"q\" / \t"))
        #expect(params["int"] == .int(-12))
        #expect(params["exp"] == .double(1000))
        #expect(params["frac"] == .double(0.25))
        #expect(params["big"] == .double(1.5e10))
        #expect(params["zero"] == .int(0))
        #expect(params["yes"] == .string("yes"))
        #expect(params["t"] == .bool(true))
        #expect(params["n"] == .null)
        #expect(params["s"] == .string("123"))
    }

    @Test(
        "plain scalars resolve by the YAML 1.2 core schema",
        arguments: [
            ("~", SpecValue.null), ("null", .null), ("", .null), ("true", .bool(true)), ("False", .bool(false)),
            ("yes", .string("yes")), ("off", .string("off")), ("42", .int(42)), ("-7", .int(-7)),
            ("0x1F", .int(31)), ("0o17", .int(15)), ("1.5", .double(1.5)), (".5", .double(0.5)),
            ("1e3", .double(1000)), ("12ab", .string("12ab")), ("'7'", .string("7")), ("!!str 7", .string("7")),
            ("1h30m", .string("1h30m")),
        ]
    )
    func scalars(text: String, expected: SpecValue) throws {
        let values = try SpecDecoder().values(Array("value: \(text)".utf8), file: "v.yaml")
        #expect(values[0].mapValue?["value"] == expected)
    }

    @Test("an integer out of range is an error naming it")
    func integerOutOfRange() {
        let errors = valueErrors("a: 99999999999999999999")
        #expect(errors.map(\.code) == [.invalidNumber])
        #expect(errors.first?.message == "99999999999999999999: integer out of range")
        #expect(errors.first?.path == "a")
    }

    @Test("a custom API group is accepted when configured")
    func customGroup() throws {
        let text = "apiVersion: platform.company.com/v1\nkind: Template\nmetadata: {name: t}\nspec: {}"
        let object = try decodeOne(text, decoder: SpecDecoder(apiGroup: "platform.company.com"))
        #expect(object.name == "t")
        let errors = decodingErrors(text)
        #expect(errors.map(\.code) == [.unsupportedAPIVersion])
        #expect(
            errors.first?.description
                == #"app.yaml:1:13: document 1 (Template t): apiVersion: unsupported apiVersion "platform.company.com/v1": "#
                + #"group "platform.company.com" and version "v1", expected group "trellis.dev" and version "v1""#
        )
    }

    @Test("a wrong version is an error naming group and version")
    func wrongVersion() {
        let errors = decodingErrors("apiVersion: trellis.dev/v2\nkind: Template\nmetadata: {name: t}\nspec: {}")
        #expect(errors.map(\.code) == [.unsupportedAPIVersion])
        #expect(errors.first?.message.contains(#"version "v2", expected group "trellis.dev" and version "v1""#) == true)
    }

    @Test("a YAML syntax error names the line and column")
    func syntaxError() throws {
        let errors = decodingErrors("apiVersion: trellis.dev/v1\nkind: Template\nmetadata:\n  name: [a, b\n")
        let error = try #require(errors.first)
        #expect(error.code == .syntax)
        #expect(error.line == 5)
        #expect(error.message.contains("did not find expected ',' or ']'"))
        #expect(error.description.hasPrefix("app.yaml:5:1: document 1: "))
    }

    @Test("a syntax error in a later document keeps the errors of earlier ones")
    func syntaxErrorAfterOtherErrors() {
        let errors = decodingErrors("kind: Nope\n---\na: b: c\n")
        #expect(errors.map(\.code) == [.missingField, .unknownKind, .syntax])
        #expect(errors.map { $0.document?.index } == [1, 1, 2])
        #expect(errors.last?.line == 3)
    }

    @Test("all errors of a document are reported, each with its path and the document's name")
    func collectsErrors() {
        let text = """
            apiVersion: trellis.dev/v1
            kind: Template
            metadata: {name: backend-service, colour: blue}
            spec:
              parameters:
                port: {type: int, default: "80"}
                bad-name: {type: float}
              resources:
                API: {type: process}
                db: {params: []}
                api:
                  type: process
                  dependsOn: [confg]
                  params:
                    command: ["run", "${params.missing}", "${resources.db.output.url}"]
            """
        let errors = decodingErrors(text)
        let lines = errors.map(\.description)
        let prefix = "app.yaml"
        let document = "document 1 (Template backend-service)"
        #expect(
            lines == [
                #"\#(prefix):3:43: \#(document): metadata.colour: unknown field "colour"; expected one of "name", "version", "labels""#,
                #"\#(prefix):6:32: \#(document): spec.parameters.port.default: default is a string, but the parameter is of type int"#,
                #"\#(prefix):7:15: \#(document): spec.parameters.bad-name: invalid parameter name "bad-name": a parameter name must be a letter or '_' followed by letters, digits or '_'"#,
                #"\#(prefix):7:22: \#(document): spec.parameters.bad-name.type: unknown parameter type "float"; expected one of string, int, bool, list, map"#,
                #"\#(prefix):9:10: \#(document): spec.resources.API: invalid resource name "API": a resource name must be lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters"#,
                #"\#(prefix):10:9: \#(document): spec.resources.db.type: missing required field "type""#,
                #"\#(prefix):15:47: \#(document): spec.resources.api.params.command[2]: invalid placeholder "${resources.db.output.url}": expected ${params.NAME} or ${resources.NAME.outputs.KEY}"#,
            ]
        )
    }

    @Test("references inside a template are checked: parameters, resources, dependsOn")
    func templateReferences() {
        let text = """
            apiVersion: trellis.dev/v1
            kind: Template
            metadata: {name: backend-service}
            spec:
              resources:
                config: {type: file}
                api:
                  type: process
                  dependsOn: [confg]
                  params:
                    command: ["run", "${params.missing}", "${resources.dbb.outputs.url}"]
            """
        let lines = decodingErrors(text).map(\.description)
        let document = "document 1 (Template backend-service)"
        #expect(
            lines == [
                #"app.yaml:11:26: \#(document): spec.resources.api.params.command[1]: unknown parameter "missing""#,
                #"app.yaml:11:47: \#(document): spec.resources.api.params.command[2]: unknown resource "dbb" in ${resources.dbb.outputs.url}"#,
                #"app.yaml: \#(document): spec.resources.api.dependsOn[0]: unknown resource "confg""#,
            ]
        )
    }

    @Test("a cycle inside a template is rejected when it is read")
    func templateCycle() {
        let text = """
            apiVersion: trellis.dev/v1
            kind: Template
            metadata: {name: t}
            spec:
              resources:
                a: {type: noop, dependsOn: [b]}
                b: {type: noop, params: {x: "${resources.c.outputs.y}"}}
                c: {type: noop, dependsOn: [a]}
            """
        let errors = decodingErrors(text)
        #expect(errors.map(\.code) == [.dependencyCycle])
        #expect(errors.first?.path == "spec.resources.a")
        #expect(errors.first?.message == "dependency cycle: a -> b -> c -> a")
    }

    @Test("an unknown kind and a missing name are reported together")
    func unknownKind() {
        let errors = decodingErrors("apiVersion: trellis.dev/v1\nkind: Policy\nmetadata: {}\nspec: {}")
        #expect(errors.map(\.code) == [.unknownKind])
        #expect(
            errors.first?.message
                == #"unknown kind "Policy"; expected one of "Template", "ResourceDefinition", "Environment""#)
    }

    @Test("a duplicate key is an error at its path")
    func duplicateKey() {
        let errors = valueErrors("apiVersion: trellis.dev/v1\nkind: Template\nkind: Template\nmetadata: {name: t}\n")
        #expect(errors.map(\.code) == [.duplicateKey])
        #expect(errors.first?.path == "kind")
        #expect(errors.first?.line == 3)
    }

    @Test("a billion-laughs document is rejected while parsing")
    func billionLaughs() {
        var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...9 {
            let previous = "*a\(level - 1)"
            text += "a\(level): &a\(level) [\(Array(repeating: previous, count: 9).joined(separator: ", "))]\n"
        }
        let errors = valueErrors(text)
        #expect(errors.map(\.code) == [.aliasExpansionLimit])
        #expect(errors.first?.message == "aliases expand to more than 100000 nodes")
    }

    @Test("aliases within the limit are expanded")
    func aliases() throws {
        let values = try SpecDecoder().values(Array("base: &b {x: 1}\ncopy: *b\nlist: [*b, *b]".utf8), file: "a.yaml")
        #expect(values[0].mapValue?["copy"] == ["x": 1])
        #expect(values[0].mapValue?["list"] == [["x": 1], ["x": 1]])
    }

    @Test("a self-referencing alias is rejected")
    func recursiveAlias() {
        let errors = valueErrors("a: &x [1, *x]\n")
        #expect(errors.map(\.code) == [.recursiveAlias])
        #expect(errors.first?.path == "a[1]")
        #expect(errors.first?.message == "alias *x refers to a node that contains it")
    }

    @Test("nesting deeper than the limit is rejected with the path reached")
    func deepNesting() {
        let text = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        let errors = valueErrors(text)
        #expect(errors.map(\.code) == [.nestingTooDeep])
        #expect(errors.first?.message == "lists and maps nest deeper than the limit of 64")
        #expect(errors.first?.path.hasPrefix("[0][0][0]") == true)
    }

    @Test("an input larger than the limit is rejected before parsing")
    func inputTooLarge() {
        let decoder = SpecDecoder(limits: SpecLimits(maxInputBytes: 10))
        let errors = decodingErrors("apiVersion: trellis.dev/v1", decoder: decoder)
        #expect(errors.map(\.code) == [.inputTooLarge])
        #expect(errors.first?.description == "app.yaml: input is 26 bytes, more than the limit of 10")
    }

    @Test("more resources than the limit are rejected")
    func tooManyResources() {
        let decoder = SpecDecoder(limits: SpecLimits(maxResources: 2))
        let text =
            "apiVersion: trellis.dev/v1\nkind: Template\nmetadata: {name: t}\nspec:\n  resources: {a: {type: noop}, b: {type: noop}, c: {type: noop}}"
        let errors = decodingErrors(text, decoder: decoder)
        #expect(errors.map(\.code) == [.tooManyResources])
        #expect(errors.first?.path == "spec.resources")
    }

    @Test("environment fields with wrong values are reported at their paths")
    func environmentErrors() {
        let text = """
            apiVersion: trellis.dev/v1
            kind: Environment
            metadata: {name: env}
            spec:
              template: 7
              ttl: 3 days
              reconcile: sometimes
              dependencies:
                cache: {type: noop, params: {x: "${oops"}}
            """
        let errors = decodingErrors(text)
        #expect(
            errors.map(\.path) == ["spec.template", "spec.dependencies.cache.params.x", "spec.ttl", "spec.reconcile"])
        #expect(errors.map(\.code) == [.wrongType, .invalidPlaceholder, .invalidDuration, .invalidValue])
        #expect(errors[2].message == #"invalid duration "3 days"; write it like 400ms, 30s, 72h or 1h30m"#)
    }

    @Test("label keys that are not plain words are quoted in paths")
    func quotedPathKeys() {
        let errors = decodingErrors(
            "apiVersion: trellis.dev/v1\nkind: Environment\nmetadata: {name: e, labels: {app.io/name: 3}}\nspec: {template: t}"
        )
        #expect(errors.first?.path == #"metadata.labels["app.io/name"]"#)
    }

    @Test("each kind written as canonical JSON reads back equal")
    func roundTrip() throws {
        let text =
            Self.template + """

                ---
                apiVersion: trellis.dev/v1
                kind: ResourceDefinition
                metadata: {name: pg}
                spec: {type: postgres, driver: postgres-database, params: {server: local}, match: {team: identity, environmentLabels: {region: eu}}}
                ---
                apiVersion: trellis.dev/v1
                kind: Environment
                metadata: {name: env, team: identity, labels: {type: dev}}
                spec: {template: backend-service, parameters: {branch: main}, ttl: 400ms, placement: {agent: {region: local}}}
                ---
                apiVersion: trellis.dev/v1
                kind: Environment
                metadata: {name: env2}
                spec:
                  template: backend-service
                  dependencies:
                    cache: {type: 'redis "quoted" \\ back', params: {size: 2, tags: [a, "b\\tc"]}, dependsOn: [api, port], placement: {agent: {zone: b}}}
                    bare: {type: noop}
                """
        for document in try SpecDecoder().decode(text, file: "a.yaml") {
            let json = document.object.canonicalJSON()
            // Written straight out, the text is the document tree's, byte for byte: stored
            // bodies are compared as text to find what changed.
            #expect(json == document.object.document().canonicalJSON)
            let again = try decodeOne(json)
            #expect(again == document.object)
            #expect(again.canonicalJSON() == json)
        }
    }

    @Test("canonical JSON escapes exactly what JSON requires, and reads back")
    func canonicalJSONEscapes() throws {
        let strings = [
            "plain", "", "quote \" inside", "back\\slash", "line\nbreak\r\ttab", "bell \u{07} and del \u{7F}",
            "é, 日本, 🙂", "\u{1F}",
        ]
        let value = SpecValue.list(strings.map { .string($0) })
        #expect(
            value.canonicalJSON
                == #"["plain","","quote \" inside","back\\slash","line\n"#
                + #"break\r\ttab","bell \u0007 and del \u007f","é, 日本, 🙂","\u001f"]"#)
        let decoded = try JSONSerialization.jsonObject(with: Data(value.canonicalJSON.utf8)) as? [String]
        #expect(decoded == strings)
    }
}
