import TrellisDomain

/// What a driver is asked to act on: one resource of one environment, with its params
/// already substituted (every placeholder filled with its dependency's outputs).
public struct DriverRequest: Sendable {
    public var environment: String
    public var resource: String
    public var type: String
    public var params: SpecMap
    /// 1 for the first attempt; drivers may use it in messages.
    public var attempt: Int
    /// Carried into every log line about this step.
    public var requestID: String
    /// The environment's directory on this host; paths in params are relative to it and
    /// may not leave it. Nil where the driver touches no files (the coordinator's noop).
    public var environmentDirectory: String?
    /// Where drivers that run programs send each captured line of output.
    public var output: (any OutputSink)?
    /// What the last successful apply of this resource returned, when there was one: a
    /// re-apply can keep what it generated (a password), a delete can find what it made.
    public var applied: DriverOutputs?

    public init(
        environment: String, resource: String, type: String, params: SpecMap, attempt: Int, requestID: String,
        environmentDirectory: String? = nil, output: (any OutputSink)? = nil, applied: DriverOutputs? = nil
    ) {
        self.environment = environment
        self.resource = resource
        self.type = type
        self.params = params
        self.attempt = attempt
        self.requestID = requestID
        self.environmentDirectory = environmentDirectory
        self.output = output
        self.applied = applied
    }
}

/// One line a resource's program wrote.
public struct OutputLine: Sendable, Hashable {
    public enum Stream: String, Sendable, Hashable {
        case stdout
        case stderr
    }

    public var environment: String
    public var resource: String
    public var stream: Stream
    /// Wall-clock time the line was read, in nanoseconds since the Unix epoch.
    public var timestampNanoseconds: Int64
    public var text: String

    public init(environment: String, resource: String, stream: Stream, timestampNanoseconds: Int64, text: String) {
        self.environment = environment
        self.resource = resource
        self.stream = stream
        self.timestampNanoseconds = timestampNanoseconds
        self.text = text
    }
}

/// Receives captured output lines; must not block (the logs subsystem batches them).
public protocol OutputSink: Sendable {
    func write(_ line: OutputLine)
}

/// What observing a resource found.
public enum Observation: Sendable, Hashable {
    /// The resource is as applied.
    case matches
    /// The resource exists but differs from its spec; the reason says how.
    case drifted(String)
    /// The resource is gone.
    case missing(String)
}

/// What applying a resource produced.
public struct DriverOutputs: Sendable, Hashable {
    /// Values other resources may reference as `${resources.NAME.outputs.KEY}`.
    public var values: SpecMap
    /// Keys of `values` that are secret: stored encrypted, never logged or shown.
    public var secretKeys: Set<String>

    public init(values: SpecMap = [:], secretKeys: Set<String> = []) {
        self.values = values
        self.secretKeys = secretKeys
    }
}

/// A driver's failure: what went wrong and whether trying again may help.
public struct DriverError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public var retryable: Bool

    public init(_ message: String, retryable: Bool = false) {
        self.message = message
        self.retryable = retryable
    }

    public var description: String { message }
}

/// One problem with a resource's params, found before anything runs.
public struct ParamProblem: Sendable, Hashable, CustomStringConvertible {
    /// The field, relative to the resource: `params.delay`.
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Applies, observes and deletes one type of resource, idempotently: applying the same
/// params twice changes nothing the second time, and a step that may already have run
/// (after a crash) is safe to run again.
///
/// The coordinator's engine runs drivers through this interface, and so will agents on
/// target hosts; a driver never knows which side it runs on.
public protocol ResourceDriver: Sendable {
    /// The driver's name, e.g. `noop`, `process`.
    var name: String { get }

    /// Checks params before anything runs. Params may still hold output placeholders
    /// (`${resources...}`), which a driver accepts as strings.
    func validate(_ params: SpecMap) -> [ParamProblem]

    /// Makes the resource match `request.params`; returns its outputs.
    func apply(_ request: DriverRequest) async throws(DriverError) -> DriverOutputs

    /// Compares the resource as it is with what applying `request.params` made, given
    /// the outputs that apply returned. Changes nothing.
    func observe(_ request: DriverRequest, applied: DriverOutputs) async throws(DriverError) -> Observation

    /// Removes the resource; deleting what does not exist succeeds.
    func delete(_ request: DriverRequest) async throws(DriverError)
}

/// The drivers a process can run, by name.
public struct DriverRegistry: Sendable {
    private var drivers: [String: any ResourceDriver] = [:]

    public init(_ drivers: [any ResourceDriver] = []) {
        for driver in drivers { register(driver) }
    }

    public mutating func register(_ driver: any ResourceDriver) {
        drivers[driver.name] = driver
    }

    public func driver(named name: String) -> (any ResourceDriver)? { drivers[name] }

    public var names: [String] { drivers.keys.sorted() }
}
