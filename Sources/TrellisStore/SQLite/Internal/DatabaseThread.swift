import TrellisThreads

#if canImport(Glibc)
import Glibc
#endif

/// Starts the OS thread that owns a store's connection.
enum DatabaseThread {
    static func start(_ body: @escaping @Sendable () -> Void) throws(StoreError) {
        let result = DetachedThread.start(name: "database", body)
        guard result == 0 else {
            throw StoreError(
                code: .open, message: "store: pthread_create: \(String(cString: strerror(result))) (errno \(result))")
        }
    }
}
