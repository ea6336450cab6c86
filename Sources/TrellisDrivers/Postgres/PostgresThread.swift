/// Runs libpq's blocking calls on threads of their own.
///
/// libpq waits in `poll` while it connects and while the server works; on Swift's
/// cooperative pool (about one thread per core) that would stall every other task. Each
/// driver operation therefore runs, from its first connect to its last close, on a new
/// thread, and the calling task waits on a continuation.
enum PostgresThread {
    /// Runs `body` on a new thread and returns what it returned or threw.
    ///
    /// Cancelling the task does not interrupt `body`: libpq's `connect_timeout` bounds
    /// connecting, and a statement runs to its end.
    static func run<T: Sendable>(
        resource: String, _ body: @escaping @Sendable () throws(DriverError) -> T
    ) async throws(DriverError) -> T {
        let result: Result<T, DriverError> = await withCheckedContinuation { continuation in
            do {
                try SupervisorThread.start {
                    continuation.resume(returning: Result { () throws(DriverError) in try body() })
                }
            } catch {
                continuation.resume(
                    returning: .failure(
                        DriverError("\(PostgresDatabaseSpec.driver): \(resource): \(error)", retryable: true)))
            }
        }
        return try result.get()
    }
}
