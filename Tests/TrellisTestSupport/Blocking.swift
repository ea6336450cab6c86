import Foundation

/// Runs blocking work (a `poll`, a `waitpid`) on a thread of its own and waits for it
/// without holding one of the cooperative pool's few threads: with two cores there are
/// about two, and tests that block them stall every other test running beside them.
public func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}
