import Foundation
import Synchronization
import Testing
import TrellisThreads

/// What a started thread saw: its own name and whether it was the starter's thread.
private final class Seen: Sendable {
    private let state = Mutex<(runs: Int, name: String, sameThread: Bool)>((0, "", false))
    var value: (runs: Int, name: String, sameThread: Bool) { state.withLock { $0 } }
    func record(name: String, sameThread: Bool) {
        state.withLock { $0 = ($0.runs + 1, name, sameThread) }
    }
}

@Suite("Detached threads")
struct DetachedThreadTests {
    @Test("the body runs once, on a thread of its own, under the name given (cut to 15 bytes)")
    func runsOnceNamed() async throws {
        let seen = Seen()
        let starter = pthread_self()
        let done = DispatchSemaphore(value: 0)
        let result = DetachedThread.start(name: "trellis-test-thread-name") {
            let comm = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            seen.record(
                name: comm.trimmingCharacters(in: .newlines), sameThread: pthread_equal(pthread_self(), starter) != 0)
            done.signal()
        }
        #expect(result == 0)
        #expect(done.wait(timeout: .now() + 30) == .success)
        let value = seen.value
        #expect(value.runs == 1)
        #expect(value.name == "trellis-test-th")
        #expect(!value.sameThread)
    }
}
