#if canImport(Glibc)
import Glibc
#endif

/// Starts the OS threads the supervisor's loops run on, outside the cooperative pool
/// (which has about one thread per core and must never be blocked).
enum SupervisorThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func start(_ body: @escaping () -> Void) throws(ProcessSystemError) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { argument in
                Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().body()
                return nil
            }, box)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw ProcessSystemError("pthread_create", errorNumber: result)
        }
        pthread_detach(thread)
    }
}
