import CEpoll

#if canImport(Glibc)
import Glibc
#endif

/// Starts operating-system threads outside Swift's cooperative pool, for work that waits
/// in system calls: an event loop's `epoll_wait`, a database connection, a supervised
/// process's pipes. The pool has about one thread per core and must never be blocked.
///
/// A module of its own, apart from any `main.swift`: a thread entry point declared there
/// would be inferred `@MainActor`, and trap when the new thread calls it.
public enum DetachedThread {
    /// Starts `body` on a new detached thread, named `name` when one is given (Linux keeps
    /// the first 15 bytes). Returns 0, or `pthread_create`'s error number, in which case
    /// no thread was started and `body` is released unrun.
    public static func start(name: String? = nil, _ body: @escaping @Sendable () -> Void) -> Int32 {
        let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { argument in
                let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
                if let name = box.name { _ = pthread_setname_np(pthread_self(), String(name.utf8.prefix(15))!) }
                box.body()
                return nil
            }, box)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            return result
        }
        pthread_detach(thread)
        return 0
    }

    private final class Box: Sendable {
        let name: String?
        let body: @Sendable () -> Void

        init(name: String?, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
}
