import Dispatch
import Synchronization

/// Carries captured lines from the supervisor's reading thread to the sinks, on a thread
/// of its own, so that a slow sink never slows the reading: a program whose pipe is not
/// drained would stall on its next write. When the queue is full, lines are dropped and
/// counted per resource instead.
final class OutputQueue: Sendable {
    private struct Item {
        var line: OutputLine
        var sink: any OutputSink
    }

    private struct State {
        var pending: [Item] = []
        var dropped: [ProcessKey: Int] = [:]
        var stopped = false
    }

    /// Lines waiting for delivery at most; past it, new lines are dropped.
    let capacity: Int
    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Queues `line` for `sink`; drops it when the queue is full.
    func enqueue(_ line: OutputLine, to sink: any OutputSink) {
        let accepted = state.withLock { state in
            guard !state.stopped else { return false }
            guard state.pending.count < capacity else {
                state.dropped[ProcessKey(environment: line.environment, resource: line.resource), default: 0] += 1
                return false
            }
            state.pending.append(Item(line: line, sink: sink))
            return true
        }
        if accepted { wakeup.signal() }
    }

    /// Lines of `key` dropped so far because the sink fell behind.
    func droppedCount(for key: ProcessKey) -> Int {
        state.withLock { $0.dropped[key] ?? 0 }
    }

    /// Delivers lines until `stop`; runs on the queue's own thread.
    func deliver() {
        while true {
            wakeup.wait()
            let (batch, stopped) = state.withLock { state in
                let batch = state.pending
                state.pending.removeAll(keepingCapacity: true)
                return (batch, state.stopped)
            }
            for item in batch { item.sink.write(item.line) }
            if stopped { return }
        }
    }

    /// Ends delivery after the lines already queued.
    func stop() {
        state.withLock { $0.stopped = true }
        wakeup.signal()
    }
}

/// Splits a stream of bytes into lines, cutting lines longer than `maximumLength` bytes
/// into pieces of at most that length (on a character boundary where one is near).
struct LineSplitter {
    static let maximumLength = 16 * 1024

    private var buffer: [UInt8] = []

    /// The complete lines `bytes` finish, without their line ends.
    mutating func append(_ bytes: some Collection<UInt8>) -> [String] {
        buffer += bytes
        var lines: [String] = []
        var start = 0
        while true {
            // A line end may follow a line of exactly the maximum length.
            let window = start..<min(buffer.count, start + Self.maximumLength + 1)
            if let newline = buffer[window].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                lines.append(String(decoding: buffer[start..<end], as: UTF8.self))
                start = newline + 1
            } else if buffer.count - start > Self.maximumLength {
                let cut = cutPoint(from: start)
                lines.append(String(decoding: buffer[start..<cut], as: UTF8.self))
                start = cut
            } else {
                break
            }
        }
        buffer.removeFirst(start)
        return lines
    }

    /// What is left at the end of the stream, as a last line.
    mutating func finish() -> [String] {
        defer { buffer.removeAll() }
        var lines: [String] = []
        while buffer.count > Self.maximumLength {
            let cut = cutPoint(from: 0)
            lines.append(String(decoding: buffer[..<cut], as: UTF8.self))
            buffer.removeFirst(cut)
        }
        if !buffer.isEmpty { lines.append(String(decoding: buffer, as: UTF8.self)) }
        return lines
    }

    /// The end of the next piece of an over-long line: the maximum length, moved back off
    /// a UTF-8 continuation byte so that no character is split.
    private func cutPoint(from start: Int) -> Int {
        var cut = start + Self.maximumLength
        var steps = 0
        while steps < 3, cut > start, cut < buffer.count, buffer[cut] & 0xC0 == 0x80 {
            cut -= 1
            steps += 1
        }
        return cut
    }
}
