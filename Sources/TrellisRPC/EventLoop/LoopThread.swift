import CEpoll

#if canImport(Glibc)
import Glibc
#endif

/// Starts the OS threads that event loops run on.
///
/// Kept apart from `main.swift` files on purpose: a thread entry point declared there
/// would be inferred `@MainActor` and trap when the new thread calls it.
enum LoopThread {
    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    static func start(name: String, _ body: @escaping () -> Void) throws(RPCSystemError) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { argument in
                let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
                box.body()
                return nil
            }, box)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw RPCSystemError(function: "pthread_create", errno: result)
        }
        pthread_detach(thread)
        // Linux limits thread names to 15 bytes.
        _ = pthread_setname_np(thread, String(name.prefix(15)))
    }
}
