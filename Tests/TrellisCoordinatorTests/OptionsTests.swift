import Testing
import TrellisCommandLine

@testable import TrellisCoordinator

@Suite("trellisd options")
struct OptionsTests {
    @Test("parallelism flags set the engine's limits")
    func parallelism() throws {
        let options = try CoordinatorOptions(parsing: ["--dev", "--parallelism", "128", "--parallelism-per-driver=50"])
        #expect(options.parallelism == 128)
        #expect(options.parallelismPerDriver == 50)
        #expect(try CoordinatorOptions(parsing: ["--dev"]).parallelism == 64)
    }

    @Test("a parallelism below one is refused, naming the flag")
    func invalidParallelism() {
        let error = #expect(throws: UsageError.self) {
            _ = try CoordinatorOptions(parsing: ["--dev", "--parallelism", "0"])
        }
        #expect(error?.message.contains("--parallelism") == true)
    }
}
