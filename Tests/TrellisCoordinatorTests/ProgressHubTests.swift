import Synchronization
import Testing
import TrellisAPI
import TrellisTestSupport

@testable import TrellisCoordinator

private func event(_ environment: String, _ resource: String) -> TrellisV1.ProgressEvent {
    TrellisV1.ProgressEvent(environment: environment, resource: resource, event: .resourceReady, phase: "Ready")
}

@Suite("Progress subscriptions")
struct ProgressHubTests {
    @Test("a subscriber gets its environments' events in order, queued or awaited, then nil once finished")
    func ordered() async {
        let hub = ProgressHub()
        let events = hub.subscribe(to: ["a"], unbounded: true)
        // Queued before the reader asks.
        for index in 0..<3 { hub.publish(event("a", "q\(index)")) }
        hub.publish(event("b", "other"))
        let reader = Task {
            var seen: [String] = []
            for await event in events { seen.append(event.resource) }
            return seen
        }
        // Published while the reader waits (whenever it gets there).
        for index in 0..<2_000 {
            hub.publish(event("a", "w\(index)"))
            if index.isMultiple(of: 100) { await Task.yield() }
        }
        hub.finishAll()
        let seen = await reader.value
        #expect(seen == (0..<3).map { "q\($0)" } + (0..<2_000).map { "w\($0)" })
    }

    @Test("a bounded subscriber that falls behind keeps the newest events")
    func boundedKeepsNewest() async {
        let queue = ProgressQueue(environments: nil, capacity: 3)
        for index in 0..<10 { queue.push(event("a", "e\(index)")) }
        queue.finish()
        var seen: [String] = []
        while let event = await queue.next() { seen.append(event.resource) }
        #expect(seen == ["e7", "e8", "e9"])
    }

    @Test("a reader waiting for events stops when its task is cancelled", .timeLimit(.minutes(1)))
    func cancelledReaderStops() async {
        let hub = ProgressHub()
        let events = hub.subscribe(to: nil, unbounded: true)
        let received = Mutex(0)
        let reader = Task {
            for await _ in events { received.withLock { $0 += 1 } }
            return received.withLock { $0 }
        }
        hub.publish(event("a", "one"))
        // Once it has the event it waits for the next one, which never comes.
        #expect(await eventually { received.withLock { $0 } == 1 })
        reader.cancel()
        #expect(await reader.value == 1)
    }

    @Test("dropping the stream ends the subscription")
    func droppedStreamUnsubscribes() async {
        let hub = ProgressHub()
        let ended = Mutex(false)
        do {
            let queue = ProgressQueue(environments: nil, capacity: nil)
            _ = ProgressStream(queue: queue) { ended.withLock { $0 = true } }
        }
        #expect(ended.withLock { $0 })
        // Through the hub: the subscription is gone once its stream is.
        do {
            let stream = hub.subscribe(to: nil, unbounded: false)
            #expect(hub.subscriberCount == 1)
            _ = stream
        }
        #expect(hub.subscriberCount == 0)
        hub.publish(event("a", "nobody"))
    }
}
