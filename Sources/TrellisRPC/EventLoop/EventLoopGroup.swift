import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A fixed set of event loops, one per core by default, handed out round-robin.
public final class EventLoopGroup: Sendable {
    /// The loops, in creation order.
    public let loops: [EventLoop]
    private let next = Atomic<Int>(0)

    /// Starts `count` loops named `prefix-0`, `prefix-1`, …
    public init(
        loopCount count: Int = EventLoopGroup.defaultLoopCount, namePrefix prefix: String = "loop"
    )
        throws(RPCSystemError)
    {
        precondition(count > 0, "an event loop group needs at least one loop")
        var loops: [EventLoop] = []
        for index in 0..<count {
            loops.append(try EventLoop(name: "\(prefix)-\(index)"))
        }
        self.loops = loops
    }

    /// The number of online cores.
    public static var defaultLoopCount: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// The next loop in round-robin order.
    public func nextLoop() -> EventLoop {
        let index = next.add(1, ordering: .relaxed).oldValue
        return loops[index % loops.count]
    }

    /// Stops every loop and waits for their threads to end.
    public func shutdown() async {
        for loop in loops { await loop.shutdown() }
    }
}
