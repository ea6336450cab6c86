/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
///
/// Tests wait for states, never for fixed delays; the timeout is generous so that a
/// loaded machine slows a test down rather than failing it. The whole suite keeps both
/// CPUs of a 2-core machine busy, and a test's tasks can wait 20 s for a thread there, so
/// the default is a minute.
public func eventually(
    timeout: Duration = .seconds(60),
    poll: Duration = .milliseconds(10),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: poll)
    }
}
