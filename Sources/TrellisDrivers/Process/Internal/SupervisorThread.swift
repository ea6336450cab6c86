import TrellisThreads

/// Starts the OS threads the supervisor's loops run on, outside the cooperative pool
/// (which has about one thread per core and must never be blocked).
enum SupervisorThread {
    static func start(_ body: @escaping @Sendable () -> Void) throws(ProcessSystemError) {
        let result = DetachedThread.start(body)
        guard result == 0 else { throw ProcessSystemError("pthread_create", errorNumber: result) }
    }
}
