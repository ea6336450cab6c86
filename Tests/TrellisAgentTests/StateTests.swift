import Testing
import TrellisAPI
import TrellisDomain

@testable import TrellisAgent
@testable import TrellisDrivers

@Suite("The agent's bookkeeping")
struct StateTests {
    @Test("a command id is run once, ignored while running, answered while kept, and run again once expired")
    func commandBook() {
        var book = CommandBook(retention: .seconds(600))
        let start = ContinuousClock.now
        #expect(book.admit("c1", now: start) == .run)
        #expect(book.admit("c1", now: start) == .alreadyRunning)
        let result = TrellisV1.CommandResult(id: "c1", ok: true)
        book.finish(result, now: start)
        #expect(book.running.isEmpty)
        #expect(book.admit("c1", now: start + .seconds(599)) == .answer(result))
        #expect(book.admit("c1", now: start + .seconds(601)) == .run)
    }

    @Test("backoff delays stay under a bound that doubles from the initial to the maximum, and reset")
    func backoff() {
        var series = ReconnectBackoff.Series(
            ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(10)))
        var bounds: [Duration] = []
        for _ in 0..<10 {
            let bound = series.bound
            bounds.append(bound)
            #expect(series.next() <= bound)
        }
        #expect(bounds.first == .milliseconds(100))
        #expect(bounds[1] == .milliseconds(200))
        #expect(bounds.last == .seconds(10))
        series.reset()
        #expect(series.bound == .milliseconds(100))
    }

    @Test("health follows the observation, and for processes with a check the probes' verdict")
    func conditions() {
        let matches = ResourceCondition.Observed.observation(.matches)
        let drifted = ResourceCondition.Observed.observation(.drifted("content changed"))
        #expect(ResourceCondition.of(matches, driver: "file", params: [:], probe: nil).health == .healthy)
        let fileDrift = ResourceCondition.of(drifted, driver: "file", params: [:], probe: nil)
        #expect(fileDrift.health == .unhealthy)
        #expect(fileDrift.healthMessage == "content changed")
        #expect(fileDrift.observation == .drifted)

        #expect(ResourceCondition.of(matches, driver: "process", params: [:], probe: nil).health == .healthy)
        let checked: SpecMap = ["health": .map(["tcp": .int(8080)])]
        #expect(ResourceCondition.of(matches, driver: "process", params: checked, probe: nil).health == .unknown)
        let failing = HealthChange(
            environment: "dev", resource: "api", pid: 42, healthy: false, reason: "connection refused")
        let unhealthy = ResourceCondition.of(matches, driver: "process", params: checked, probe: failing)
        #expect(unhealthy.health == .unhealthy)
        #expect(unhealthy.healthMessage == "connection refused")

        let failed = ResourceCondition.of(.failure("boom"), driver: "file", params: nil, probe: nil)
        #expect(failed.health == .unknown)
        #expect(failed.observation == .unspecified)
    }
}
