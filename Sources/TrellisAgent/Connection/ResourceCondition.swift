import TrellisAPI
import TrellisDomain
import TrellisDrivers

/// What the agent last found about a resource it holds: its health and its observation,
/// each with a message. A report goes out when this changes.
struct ResourceCondition: Hashable, Sendable {
    var health: TrellisV1.HealthState
    var healthMessage: String
    var observation: TrellisV1.ObservationState
    var observationMessage: String

    /// What observing one held resource gave: the driver's observation, or why there is none.
    enum Observed: Sendable, Hashable {
        case observation(Observation)
        case failure(String)
    }

    /// The condition of a resource from its latest observation and, for a `process`
    /// resource, its latest probe verdict.
    ///
    /// - A failed observation: health UNKNOWN, observation UNSPECIFIED, both with the reason.
    /// - `process`: UNHEALTHY while the observation is not MATCHES; with a `health` check,
    ///   the probes' verdict (UNKNOWN until the first); without one, HEALTHY.
    /// - Every other driver: HEALTHY when the observation is MATCHES, else UNHEALTHY.
    static func of(_ observed: Observed, driver: String, params: SpecMap?, probe: HealthChange?) -> ResourceCondition {
        let (state, message): (TrellisV1.ObservationState, String)
        switch observed {
        case .failure(let reason):
            return ResourceCondition(
                health: .unknown, healthMessage: reason, observation: .unspecified, observationMessage: reason)
        case .observation(let observation):
            (state, message) = observation.wireForm
        }
        var condition = ResourceCondition(
            health: .healthy, healthMessage: "", observation: state, observationMessage: message)
        if state != .matches {
            condition.health = .unhealthy
            condition.healthMessage = message
            return condition
        }
        guard driver == "process", let check = params?["health"], !check.isNull else { return condition }
        if let probe {
            condition.health = probe.healthy ? .healthy : .unhealthy
            condition.healthMessage = probe.healthy ? "" : probe.reason ?? "health check failing"
        } else {
            condition.health = .unknown
            condition.healthMessage = "no health verdict yet"
        }
        return condition
    }
}
