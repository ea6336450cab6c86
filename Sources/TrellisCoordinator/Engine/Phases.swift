/// The phases an environment moves through.
///
/// ```
/// Applying ──▶ Ready ──(apply again)──▶ Applying
///     └──────▶ Failed ─(apply again)──▶ Applying
/// Ready / Failed ──(delete, or ttl)──▶ Deleting ──▶ Deleted (the record is removed)
///                                         └──────▶ Failed (a resource could not be deleted)
/// ```
enum EnvironmentPhase {
    static let applying = "Applying"
    static let ready = "Ready"
    static let failed = "Failed"
    static let deleting = "Deleting"
    static let deleted = "Deleted"

    /// Phases in which no operation is running.
    static let settled: Set<String> = [ready, failed, deleted]
}

/// The phases a resource moves through.
///
/// ```
/// Pending ──▶ Applying ──▶ Ready
///                 └──────▶ Failed      Pending ──▶ Blocked (a dependency failed)
/// Ready ──▶ Deleting ──▶ (removed)
/// ```
enum ResourcePhase {
    static let pending = "Pending"
    static let applying = "Applying"
    static let ready = "Ready"
    static let failed = "Failed"
    static let blocked = "Blocked"
    static let deleting = "Deleting"
    static let deleted = "Deleted"
}

/// Operation names in the journal.
enum Operation {
    static let apply = "apply"
    static let delete = "delete"
}
