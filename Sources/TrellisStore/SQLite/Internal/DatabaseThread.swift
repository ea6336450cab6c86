#if canImport(Glibc)
import Glibc
#endif

/// Starts the OS thread that owns a store's connection.
enum DatabaseThread {
    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    static func start(_ body: @escaping @Sendable () -> Void) throws(StoreError) {
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
            throw StoreError(
                code: .open, message: "store: pthread_create: \(String(cString: strerror(result))) (errno \(result))")
        }
        pthread_detach(thread)
    }
}
