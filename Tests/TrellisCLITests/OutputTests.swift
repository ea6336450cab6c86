import Testing
import TrellisAPI

@testable import TrellisCLI

@Suite("CLI output formats")
struct OutputTests {
    @Test("a resource event is one JSON line with time, environment, resource, event and phase")
    func resourceEventJSON() {
        let event = TrellisV1.ProgressEvent(
            timeUnixMs: 1_764_772_666_123, environment: "preview", resource: "db", event: .resourceReady,
            phase: "Ready", outputs: ["url": "(secret)", "port": "5432"])
        #expect(
            ProgressPrinter.jsonLine(event).rendered()
                == #"{"time":"2025-12-03T14:37:46.123Z","environment":"preview","resource":"db","event":"resource_ready","phase":"Ready","outputs":{"port":"5432","url":"(secret)"}}"#
        )
    }

    @Test("an environment event has no resource field")
    func environmentEventJSON() {
        let event = TrellisV1.ProgressEvent(
            timeUnixMs: 1_764_772_666_000, environment: "preview", event: .environmentPhase, phase: "Failed",
            message: "db failed")
        let line = ProgressPrinter.jsonLine(event).rendered()
        #expect(!line.contains("\"resource\""))
        #expect(line.contains(#""event":"environment_phase","phase":"Failed","message":"db failed""#))
    }

    @Test("the exit status follows the last phase of every environment")
    func allReady() {
        var printer = ProgressPrinter(json: true)
        printer.print(TrellisV1.ProgressEvent(environment: "a", event: .planned, plan: TrellisV1.EnvironmentPlan()))
        printer.print(TrellisV1.ProgressEvent(environment: "b", event: .planned, plan: TrellisV1.EnvironmentPlan()))
        printer.print(TrellisV1.ProgressEvent(environment: "a", event: .environmentPhase, phase: "Ready"))
        #expect(!printer.allReady)
        printer.print(TrellisV1.ProgressEvent(environment: "b", event: .environmentPhase, phase: "Ready"))
        #expect(printer.allReady)
    }

    @Test("get environment JSON carries status.phase and each resource's fields")
    func environmentJSON() {
        let environment = TrellisV1.EnvironmentStatus(
            name: "preview", team: "identity", template: "backend", templateVersion: 2, phase: "Ready",
            resources: [
                TrellisV1.ResourceStatus(
                    name: "db", type: "noop", driver: "noop", phase: "Ready", outputs: ["k": "v"],
                    startedAtUnixMs: 1_764_772_666_000, finishedAtUnixMs: 1_764_772_666_500, attempts: 1)
            ])
        let text = GetCommand.environmentJSON(environment).rendered()
        #expect(text.contains(#""status":{"phase":"Ready","health":"","resources":[{"name":"db","type":"noop""#))
        #expect(
            text.contains(
                #""startedAt":"2025-12-03T14:37:46.000Z","finishedAt":"2025-12-03T14:37:46.500Z","attempts":1"#))
    }

    @Test("JSON strings escape quotes and control characters")
    func escaping() {
        #expect(JSONValue.string("a\"b\n\u{01}").rendered() == #""a\"b\n\u0001""#)
    }
}
