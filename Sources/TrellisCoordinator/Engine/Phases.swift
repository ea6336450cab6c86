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
/// Ready ──(drift, reconcile: report)──▶ Drifted ──(matches again, or apply)──▶ Ready
/// ```
enum ResourcePhase {
    static let pending = "Pending"
    static let applying = "Applying"
    static let ready = "Ready"
    static let failed = "Failed"
    static let blocked = "Blocked"
    static let deleting = "Deleting"
    static let deleted = "Deleted"
    static let drifted = "Drifted"
}

/// A resource's health as its agent reports it, and an environment's roll-up.
enum Health {
    static let healthy = "Healthy"
    static let unhealthy = "Unhealthy"
    static let unknown = "Unknown"
    /// The roll-up when some resource is unhealthy or drifted.
    static let degraded = "Degraded"
}

/// Operation names in the journal.
enum Operation {
    static let apply = "apply"
    static let delete = "delete"
}
