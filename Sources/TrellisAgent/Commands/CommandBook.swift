import TrellisAPI

/// Which commands are running and which finished recently, so that one command id is
/// run at most once at a time and a repeated id is answered without running again.
///
/// A command is *running* from its arrival until its result is recorded (waiting for a
/// slot counts). A finished command's result is kept for the retention period: the
/// coordinator sends a command again when it did not see the result (the connection
/// dropped), and gets the kept result.
struct CommandBook {
    /// What to do with a command that arrived.
    enum Admission: Equatable {
        /// New: run it.
        case run
        /// Running already; its result is sent when it finishes.
        case alreadyRunning
        /// Finished within the retention period: send this result again.
        case answer(TrellisV1.CommandResult)
    }

    let retention: Duration
    private(set) var running: Set<String> = []
    /// Finished results by id, with when they finished.
    private var finished: [String: (result: TrellisV1.CommandResult, at: ContinuousClock.Instant)] = [:]

    init(retention: Duration) {
        self.retention = retention
    }

    /// Decides about command `id`, marking it running when it is new.
    mutating func admit(_ id: String, now: ContinuousClock.Instant = .now) -> Admission {
        prune(now: now)
        if running.contains(id) { return .alreadyRunning }
        if let kept = finished[id] { return .answer(kept.result) }
        running.insert(id)
        return .run
    }

    /// Records the result of a running command.
    mutating func finish(_ result: TrellisV1.CommandResult, now: ContinuousClock.Instant = .now) {
        running.remove(result.id)
        finished[result.id] = (result, now)
        prune(now: now)
    }

    /// How many results are kept.
    var keptCount: Int { finished.count }

    private mutating func prune(now: ContinuousClock.Instant) {
        let oldest = now - retention
        if finished.values.contains(where: { $0.at < oldest }) {
            finished = finished.filter { $0.value.at >= oldest }
        }
    }
}
