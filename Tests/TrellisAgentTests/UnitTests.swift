import Testing
import TrellisAgent
import TrellisCommandLine
import TrellisDomain
import TrellisLogging

@Suite("Agent names, join tokens and flags")
struct AgentNameAndTokenTests {
    @Test("valid names", arguments: ["web-1", "a", "host.example.com", "0db", String(repeating: "a", count: 63)])
    func validNames(name: String) {
        #expect(AgentName.isValid(name))
    }

    @Test("invalid names", arguments: ["", "-web", ".web", "Web", "web_1", "wéb", String(repeating: "a", count: 64)])
    func invalidNames(name: String) {
        #expect(!AgentName.isValid(name))
    }

    @Test("a host name becomes a valid name")
    func derivedNames() {
        #expect(AgentName.derived(fromHostname: "Build_Box.Example.COM") == "build-box.example.com")
        #expect(AgentName.derived(fromHostname: "_x") == "xx")
        #expect(AgentName.derived(fromHostname: "") == "agent")
        #expect(AgentName.isValid(AgentName.derived(fromHostname: String(repeating: "Ü", count: 80))))
    }

    @Test("a join token splits into id, secret and a lower-cased fingerprint")
    func tokenParses() throws {
        let fingerprint = String(repeating: "AB", count: 32)
        let token = try JoinToken(parsing: "3f2a.s3cret.\(fingerprint)")
        #expect(token.id == "3f2a")
        #expect(token.secret == "s3cret")
        #expect(token.caFingerprint == fingerprint.lowercased())
        #expect(!token.description.contains("s3cret"))
    }

    @Test(
        "malformed join tokens are refused",
        arguments: ["", "a.b", "a..\(String(repeating: "0", count: 64))", "a.b.xyz"])
    func tokenRefused(text: String) {
        #expect(throws: JoinToken.FormatError.self) { try JoinToken(parsing: text) }
    }

    @Test("flags parse, with the server name defaulting to the coordinator's host")
    func flags() throws {
        let options = try AgentOptions(parsing: [
            "--coordinator", "127.0.0.1:7444", "--data", "/var/lib/trellis", "--label", "zone=a", "--label=tier=db",
            "--capacity", "4", "--log-format", "json",
        ])
        #expect(options.serverName == "127.0.0.1")
        #expect(options.labels == ["zone": "a", "tier": "db"])
        #expect(options.capacity == 4)
        #expect(options.logFormat == .json)
        #expect(options.name == nil)
    }

    @Test(
        "bad flags are usage errors",
        arguments: [
            ["--data", "d"], ["--coordinator", "127.0.0.1:1"], ["--coordinator", "host:1", "--data", "d"],
            ["--coordinator", "127.0.0.1:1", "--data", "d", "--name", "Bad_Name"],
            ["--coordinator", "127.0.0.1:1", "--data", "d", "--label", "novalue"],
            ["--coordinator", "127.0.0.1:1", "--data", "d", "--capacity", "0"],
            ["--coordinator", "127.0.0.1:1", "--data", "d", "--frobnicate"],
        ])
    func badFlags(arguments: [String]) {
        #expect(throws: UsageError.self) { try AgentOptions(parsing: arguments) }
    }

    @Test("a usage error exits with status 2")
    func usageExitStatus() async {
        #expect(await AgentCommand.main(["--data", "/nonexistent"]) == 2)
    }
}
