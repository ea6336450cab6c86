import Testing
import TrellisDomain

@Suite("Placeholders")
struct PlaceholderTests {
    @Test("a string splits into text and placeholders")
    func parsing() throws {
        let parsed = try PlaceholderString(parsing: "postgres://${resources.db.outputs.host}:${params.port}/x")
        #expect(
            parsed.segments == [
                .text("postgres://"), .placeholder(.output(resource: "db", key: "host")), .text(":"),
                .placeholder(.parameter("port")), .text("/x"),
            ]
        )
    }

    @Test(
        "escapes and lone dollars are literal text",
        arguments: [
            ("$${HOME}", "${HOME}"), ("cost: $5", "cost: $5"), ("echo $$", "echo $$"), ("a$", "a$"),
            ("$$$", "$$$"), ("a}$${b}", "a}${b}"),
        ]
    )
    func escapes(text: String, literal: String) throws {
        #expect(try PlaceholderString(parsing: text).segments == [.text(literal)])
    }

    @Test("an odd dollar left over before a brace starts a placeholder")
    func dollarBeforePlaceholder() throws {
        let parsed = try PlaceholderString(parsing: "$$${params.price}")
        #expect(parsed.segments == [.text("$"), .placeholder(.parameter("price"))])
        #expect(parsed.text == "$$${params.price}")
    }

    @Test(
        "text written back reads back the same",
        arguments: ["${x} and $${y}", "$", "a$${", "$$${", "{$}", "${"]
    )
    func escapeRoundTrip(literal: String) throws {
        let written = PlaceholderString(segments: [.text(literal), .placeholder(.parameter("p"))]).text
        let parsed = try PlaceholderString(parsing: written)
        #expect(parsed.segments == [.text(literal), .placeholder(.parameter("p"))])
    }

    @Test(
        "malformed placeholders are errors that quote them",
        arguments: [
            (
                "${params}",
                #"invalid placeholder "${params}": expected ${params.NAME} or ${resources.NAME.outputs.KEY}"#
            ),
            ("x ${params.a", #"unterminated placeholder "${params.a": missing '}'"#),
            (
                "${params.a-b}",
                #"invalid parameter name in "${params.a-b}": a parameter name must be a letter or '_' followed by letters, digits or '_'"#
            ),
            (
                "${resources.DB.outputs.url}",
                #"invalid resource name in "${resources.DB.outputs.url}": a resource name must be lowercase letters, digits and '-', start and end with a letter or digit, at most 63 characters"#
            ),
            (
                "${resources.db.outputs.}",
                #"invalid output key in "${resources.db.outputs.}": letters, digits, '_', '-' and '.' only"#
            ),
            (
                "${ params.a }",
                #"invalid placeholder "${ params.a }": expected ${params.NAME} or ${resources.NAME.outputs.KEY}"#
            ),
        ]
    )
    func syntaxErrors(text: String, message: String) {
        #expect(throws: PlaceholderString.SyntaxError(message: message)) {
            try PlaceholderString(parsing: text)
        }
    }

    @Test("outputs are substituted anywhere in params, whole strings keeping their type")
    func substitution() throws {
        let params: SpecMap = [
            "content": "URL=${resources.db.outputs.url}\nPORT=${resources.port.outputs.port}\n",
            "command": ["run", "--port", "${resources.port.outputs.port}"],
            "nested": ["env": ["PRICE": "$${NOT_A_PLACEHOLDER}"]],
            "plain": 3,
        ]
        let outputs: [String: SpecMap] = ["db": ["url": "postgres://x"], "port": ["port": 8080]]
        let result = try Substitution.substitute(params, outputs: outputs)
        #expect(result["content"] == "URL=postgres://x\nPORT=8080\n")
        #expect(result["command"] == ["run", "--port", 8080])
        #expect(result["nested"] == ["env": ["PRICE": "${NOT_A_PLACEHOLDER}"]])
        #expect(result["plain"] == 3)
    }

    @Test("outputs are read only for params that may hold a placeholder")
    func outputsReadWhenNeeded() throws {
        var reads = 0
        func outputs() -> [String: SpecMap] {
            reads += 1
            return ["db": ["url": "postgres://x"]]
        }
        let plain: SpecMap = ["delay": "20ms", "list": [1, "two"], "nested": ["key": "value"]]
        #expect(try Substitution.substitute(plain, outputs: outputs()) == plain)
        #expect(reads == 0)
        let placeholder: SpecMap = ["nested": ["url": "${resources.db.outputs.url}"]]
        #expect(try Substitution.substitute(placeholder, outputs: outputs())["nested"] == ["url": "postgres://x"])
        #expect(reads == 1)
    }

    @Test("a missing output is an error naming the resource, the key and the path")
    func missingOutput() {
        let params: SpecMap = ["config": ["content": "URL=${resources.db.outputs.uri}"]]
        #expect(
            throws: SpecErrors([
                SpecError(
                    file: "",
                    path: "params.config.content",
                    code: .missingOutput,
                    message: #"resource "db" has no output "uri""#
                )
            ])
        ) {
            try Substitution.substitute(params, outputs: ["db": ["url": "x"]])
        }
    }
}

@Suite("Durations")
struct DurationTests {
    @Test(
        "durations read as specs write them",
        arguments: [
            ("400ms", Duration.milliseconds(400)), ("30s", .seconds(30)), ("72h", .seconds(72 * 3600)),
            ("1h30m", .seconds(5400)), ("1.5s", .milliseconds(1500)), ("2d", .seconds(172_800)), ("0s", .zero),
            ("250µs", .microseconds(250)), ("10us", .microseconds(10)), ("7ns", .nanoseconds(7)),
            ("1.25ms", .microseconds(1250)), ("1.0000000001s", .seconds(1)), ("020ms", .milliseconds(20)),
        ]
    )
    func parse(text: String, expected: Duration) {
        #expect(SpecDuration.parse(text) == expected)
    }

    @Test(
        "malformed durations are rejected",
        arguments: [
            "", "5", "-1s", "1x", "h", "1.s", "1..5s", "3 days", ".5s", "1.2.3s", "5 s", "1s ", "1sm",
            "99999999999999999999s", "106752d", "1e3ms",
        ])
    func rejects(text: String) {
        #expect(SpecDuration.parse(text) == nil)
    }

    @Test("formatting is the shortest form that reads back", arguments: ["400ms", "30s", "72h", "1h30m", "1m5s250ms"])
    func format(text: String) throws {
        let duration = try #require(SpecDuration.parse(text))
        #expect(SpecDuration.format(duration) == text)
    }
}
