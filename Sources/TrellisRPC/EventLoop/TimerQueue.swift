/// Identifies a scheduled timer so that it can be cancelled.
struct TimerID: Hashable, Sendable {
    fileprivate let value: UInt64
}

/// A min-heap of one-shot timers, owned by one event loop.
///
/// Cancellation is lazy: a cancelled timer stays in the heap until it reaches the top,
/// where it is discarded without running.
struct TimerQueue {
    private struct Entry {
        let deadline: ContinuousClock.Instant
        let id: UInt64
        let body: () -> Void
    }

    private var heap: [Entry] = []
    /// Timers scheduled and neither fired nor cancelled.
    private var live: Set<UInt64> = []
    private var nextID: UInt64 = 1

    /// Timers that will still fire.
    var count: Int { live.count }

    /// Entries in the heap, cancelled ones included.
    var heapSize: Int { heap.count }

    /// The earliest deadline of a timer that will still fire.
    mutating func nextDeadline() -> ContinuousClock.Instant? {
        while let top = heap.first, !live.contains(top.id) {
            _ = popTop()
        }
        return heap.first?.deadline
    }

    mutating func schedule(at deadline: ContinuousClock.Instant, _ body: @escaping () -> Void) -> TimerID {
        let id = nextID
        nextID += 1
        heap.append(Entry(deadline: deadline, id: id, body: body))
        live.insert(id)
        siftUp(heap.count - 1)
        return TimerID(value: id)
    }

    mutating func cancel(_ id: TimerID) {
        live.remove(id.value)
        // Cancelled timers wait in the heap until their deadline; when they outnumber the
        // live ones, rebuild, so that calls with long deadlines that finish early (the
        // common case) cannot grow the heap without bound.
        if heap.count > 64 && heap.count > 2 * live.count {
            heap.removeAll { !live.contains($0.id) }
            for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
        }
    }

    /// Removes every timer whose deadline is at or before `now` and returns their bodies,
    /// in deadline order, for the caller to run once the queue is no longer being
    /// mutated (a body may schedule or cancel timers). Timers scheduled by a body run in
    /// a later turn, so a zero-delay reschedule cannot spin.
    mutating func takeDue(now: ContinuousClock.Instant) -> [() -> Void] {
        var due: [() -> Void] = []
        while let top = heap.first, top.deadline <= now {
            let entry = popTop()
            if live.remove(entry.id) != nil { due.append(entry.body) }
        }
        return due
    }

    private mutating func popTop() -> Entry {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
        return top
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count && heap[left].deadline < heap[smallest].deadline { smallest = left }
            if right < heap.count && heap[right].deadline < heap[smallest].deadline { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
