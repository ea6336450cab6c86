import Glibc
import Synchronization
import TrellisDomain

/// A free TCP port on this host, allocated once and kept across re-applies.
///
/// Params:
/// - `host`: the address the port must be free on, default `127.0.0.1`.
/// - `range`: `"LOW-HIGH"`, the ports to choose from, default `20000-32767`.
///
/// Outputs: `port` (an integer).
///
/// The allocation is recorded in `.trellis-ports/RESOURCE` inside the environment
/// directory, so every apply, from any driver instance, returns the same port. Apply
/// checks that the recorded port is still usable: free, or held by a process running in
/// the environment directory (the service it was allocated for); if someone else took it,
/// or it is outside a changed range, a new port is allocated and returned. Observe
/// reports a match while the allocation is recorded. Delete forgets it.
public struct PortDriver: ResourceDriver {
    public let name = "port"

    static let stateDirectory = ".trellis-ports"

    /// Ports this process handed out in the last `reservationSeconds`, so that two
    /// resources allocated before either binds do not get the same port.
    private static let recentAllocations = Mutex<[Int: Int64]>([:])
    private static let reservationNanoseconds: Int64 = 600 * 1_000_000_000

    public init() {}

    public func validate(_ params: SpecMap) -> [ParamProblem] {
        PortSpec.problems(in: params)
    }

    public func apply(_ request: DriverRequest) async throws(DriverError) -> DriverOutputs {
        let spec = try PortSpec(request.params)
        let directory = try EnvironmentDirectory.open(for: request, driver: name)
        let state = try statePath(request)
        guard let parent = try directory.openParent(of: state, creatingWith: 0o700) else {
            preconditionFailure("openParent creating directories returned nothing")
        }

        if let recorded = try record(at: state, in: directory, parent), recorded.host == spec.host,
            spec.range.contains(recorded.port), isUsable(recorded.port, spec, directory)
        {
            return Self.outputs(recorded.port)
        }
        let taken = try recordedPorts(in: directory)
        guard let port = Self.allocate(spec, excluding: taken) else {
            throw DriverError(
                "port: no free port on \(spec.host) in \(spec.range.lowerBound)-\(spec.range.upperBound)",
                retryable: true)
        }
        let text: SpecMap = ["port": .int(port), "host": .string(spec.host)]
        try directory.replaceFile(state, in: parent, with: Array((text.canonicalJSON + "\n").utf8), mode: 0o600)
        return Self.outputs(port)
    }

    public func observe(_ request: DriverRequest, applied: DriverOutputs) async throws(DriverError) -> Observation {
        _ = try PortSpec(request.params)
        let state = try statePath(request)
        guard let directory = try EnvironmentDirectory.openExisting(for: request, driver: name),
            let parent = try directory.openParent(of: state),
            let recorded = try record(at: state, in: directory, parent)
        else {
            return .missing("no port is recorded for \(request.resource)")
        }
        if let applied = applied.values["port"]?.intValue, applied != recorded.port {
            return .drifted("the recorded port is \(recorded.port), not \(applied)")
        }
        return .matches
    }

    public func delete(_ request: DriverRequest) async throws(DriverError) {
        let state = try statePath(request)
        guard let directory = try EnvironmentDirectory.openExisting(for: request, driver: name),
            let parent = try directory.openParent(of: state)
        else { return }
        if let recorded = try? record(at: state, in: directory, parent) {
            _ = Self.recentAllocations.withLock { $0.removeValue(forKey: recorded.port) }
        }
        guard unlinkat(parent.raw, state.name, 0) == 0 || errno == ENOENT else {
            throw directory.failure(state, upTo: 1, systemCallFailure("unlinkat", errno: errno))
        }
    }

    private static func outputs(_ port: Int) -> DriverOutputs {
        DriverOutputs(values: ["port": .int(port)])
    }

    private func statePath(_ request: DriverRequest) throws(DriverError) -> RelativePath {
        guard !request.resource.hasPrefix("."), !request.resource.contains("/") else {
            throw DriverError("port: resource name \(request.resource) cannot name a state file")
        }
        return try RelativePath.parsed(
            "\(Self.stateDirectory)/\(request.resource)", field: "resource", driver: name)
    }

    /// The recorded allocation, or nil when there is none (or it is unreadable, which a
    /// new allocation repairs).
    private func record(
        at state: RelativePath, in directory: EnvironmentDirectory, _ parent: OwnedDescriptor
    ) throws(DriverError) -> (port: Int, host: String)? {
        guard let status = try directory.status(of: state, in: parent), status.st_mode & S_IFMT == S_IFREG else {
            return nil
        }
        let raw = openat(parent.raw, state.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard raw >= 0, case .success(let bytes?) = OwnedDescriptor(raw).readAll(limit: 4096),
            let value = try? SpecDecoder().values(bytes, file: state.description).first,
            let port = value.mapValue?["port"]?.intValue, let host = value.mapValue?["host"]?.stringValue
        else {
            return nil
        }
        return (port, host)
    }

    /// The ports recorded for the environment's other resources.
    private func recordedPorts(in directory: EnvironmentDirectory) throws(DriverError) -> Set<Int> {
        let path = directory.path + "/" + Self.stateDirectory
        guard let stream = opendir(path) else { return [] }
        defer { closedir(stream) }
        var ports: Set<Int> = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            guard !name.hasPrefix("."), let file = fopen(path + "/" + name, "rbe") else { continue }
            var buffer = [UInt8](repeating: 0, count: 256)
            let count = fread(&buffer, 1, buffer.count, file)
            fclose(file)
            if let value = try? SpecDecoder().values(Array(buffer[..<count]), file: name).first,
                let port = value.mapValue?["port"]?.intValue
            {
                ports.insert(port)
            }
        }
        return ports
    }

    /// Whether a recorded port can stay: nobody holds it, or a process of this environment
    /// does.
    private func isUsable(_ port: Int, _ spec: PortSpec, _ directory: EnvironmentDirectory) -> Bool {
        if SocketAddress(host: spec.host, port: port)?.isBindable() == true { return true }
        return ListenerOwners.listenerInside(directory.path, port: port)
    }

    /// A free port in the range, starting at a random one so that environments allocating
    /// at once rarely collide.
    private static func allocate(_ spec: PortSpec, excluding taken: Set<Int>) -> Int? {
        let now = monotonicNanoseconds()
        let count = spec.range.count
        let start = Int.random(in: 0..<count)
        return recentAllocations.withLock { recent -> Int? in
            recent = recent.filter { now - $0.value < reservationNanoseconds }
            for offset in 0..<count {
                let port = spec.range.lowerBound + (start + offset) % count
                guard !taken.contains(port), recent[port] == nil,
                    SocketAddress(host: spec.host, port: port)?.isBindable() == true
                else { continue }
                recent[port] = now
                return port
            }
            return nil
        }
    }
}
