import Testing
import TrellisDomain
import TrellisDrivers

@Suite("The noop driver")
struct NoopDriverTests {
    private func request(_ params: SpecMap) -> DriverRequest {
        DriverRequest(environment: "e", resource: "r", type: "noop", params: params, attempt: 1, requestID: "e/r")
    }

    @Test("returns its outputs, marking the listed keys secret")
    func outputs() async throws {
        let outputs = try await NoopDriver().apply(request(["outputs": ["a": "1", "b": "2"], "secret": ["b"]]))
        #expect(outputs.values == ["a": "1", "b": "2"])
        #expect(outputs.secretKeys == ["b"])
    }

    @Test("fails with its fail message, not retryably")
    func fails() async {
        let error = await #expect(throws: DriverError.self) {
            _ = try await NoopDriver().apply(request(["fail": "no capacity"]))
        }
        #expect(error?.message == "no capacity")
        #expect(error?.retryable == false)
    }

    @Test("validation names the field for bad params")
    func validation() {
        let problems = NoopDriver().validate(["delay": "soon", "outputs": "x", "colour": "red"])
        #expect(problems.map(\.path).sorted() == ["params.colour", "params.delay", "params.outputs"])
    }
}
