import Synchronization

/// The store's commit counters, written by the database thread and read by anyone.
final class StatisticsRecorder: Sendable {
    private let state = Mutex(SQLiteStoreStatistics())

    func record(_ update: (inout SQLiteStoreStatistics) -> Void) {
        state.withLock { update(&$0) }
    }

    var current: SQLiteStoreStatistics { state.withLock { $0 } }
}
