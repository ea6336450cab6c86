import Glibc
import TrellisDomain
import TrellisTLS

/// The agent's data directory and the files in it.
///
/// ```
/// DIR/agent.key             the agent's private key (mode 0600)
/// DIR/agent.pem             its client certificate, signed by the coordinator's CA
/// DIR/ca.pem                the coordinator's CA certificate
/// DIR/agent.json            {"name": ..., "labels": {...}}, as the coordinator confirmed them
/// DIR/environments/ENV/     each environment's directory on this host
/// ```
///
/// `agent.json` is written last when joining: a directory without it has not joined.
public struct AgentDataDirectory: Sendable, Hashable {
    /// The directory, absolute: a relative path is taken from the working directory at
    /// creation, since drivers need absolute environment directories.
    public let path: String

    /// Names a data directory; nothing is read or created until asked.
    public init(path: String) {
        var absolute = path
        if !path.hasPrefix("/"), let cwd = getcwd(nil, 0) {
            absolute = String(cString: cwd) + "/" + path
            free(cwd)
        }
        self.path = absolute.count > 1 && absolute.hasSuffix("/") ? String(absolute.dropLast()) : absolute
    }

    /// `DIR/agent.key`.
    public var privateKeyPath: String { path + "/agent.key" }
    /// `DIR/agent.pem`.
    public var certificatePath: String { path + "/agent.pem" }
    /// `DIR/ca.pem`.
    public var caPath: String { path + "/ca.pem" }
    /// `DIR/agent.json`.
    public var statePath: String { path + "/agent.json" }
    /// `DIR/environments`.
    public var environmentsPath: String { path + "/environments" }

    /// The directory of `environment` on this host, `DIR/environments/ENV`.
    public func environmentDirectory(_ environment: String) -> String {
        environmentsPath + "/" + environment
    }

    /// What joining stored: the agent's name and labels, its identity and the CA.
    public struct Joined: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
        public var identity: TLSIdentity
        public var caPEM: String

        public init(name: String, labels: [String: String], identity: TLSIdentity, caPEM: String) {
            self.name = name
            self.labels = labels
            self.identity = identity
            self.caPEM = caPEM
        }
    }

    /// Creates the directory and `environments/` in it (mode 0700) when missing.
    ///
    /// - Throws: ``AgentError`` with code `.dataDirectory`.
    public func prepare() throws(AgentError) {
        try Self.makeDirectory(path)
        try Self.makeDirectory(environmentsPath)
    }

    /// Reads what joining stored, or `nil` when `agent.json` does not exist.
    ///
    /// - Throws: ``AgentError`` with code `.dataDirectory` when `agent.json` exists but it
    ///   or one of the credential files cannot be read or parsed.
    public func loadJoined() throws(AgentError) -> Joined? {
        guard let stateText = try Self.readIfPresent(statePath) else { return nil }
        let (name, labels) = try Self.decodeState(stateText, path: statePath)
        guard let key = try Self.readIfPresent(privateKeyPath),
            let certificate = try Self.readIfPresent(certificatePath),
            let ca = try Self.readIfPresent(caPath)
        else {
            throw AgentError(
                .dataDirectory,
                "\(path) has agent.json but not all of agent.key, agent.pem and ca.pem; remove it to join again")
        }
        return Joined(
            name: name, labels: labels,
            identity: TLSIdentity(certificateChainPEM: certificate, privateKeyPEM: key), caPEM: ca)
    }

    /// The CA stored in `ca.pem`, if the file exists.
    public func storedCA() throws(AgentError) -> String? {
        try Self.readIfPresent(caPath)
    }

    /// Stores what a join produced: key, certificate and CA, then `agent.json`.
    ///
    /// - Throws: ``AgentError`` with code `.dataDirectory`.
    func saveJoined(
        key: PrivateKey, certificate: Certificate, ca: Certificate, name: String, labels: [String: String]
    )
        throws(AgentError)
    {
        do {
            try key.write(to: privateKeyPath)
            try certificate.write(to: certificatePath)
            try ca.write(to: caPath)
        } catch {
            throw AgentError(.dataDirectory, "storing the agent's credentials in \(path): \(error.message)")
        }
        let labelMap = SpecMap(labels.keys.sorted().map { ($0, SpecValue.string(labels[$0]!)) })
        let state = SpecValue.map(["name": .string(name), "labels": .map(labelMap)]).canonicalJSON + "\n"
        try Self.replaceFile(statePath, with: state, mode: 0o644)
    }

    // MARK: - Files

    static func decodeState(_ text: String, path: String) throws(AgentError) -> (String, [String: String]) {
        let value: SpecValue?
        do {
            value = try SpecDecoder().values(Array(text.utf8), file: path).first
        } catch {
            throw AgentError(.dataDirectory, "\(path) is not valid JSON: \(error)")
        }
        guard let map = value?.mapValue, let name = map["name"]?.stringValue else {
            throw AgentError(.dataDirectory, "\(path) does not hold {\"name\": ..., \"labels\": {...}}")
        }
        var labels: [String: String] = [:]
        for (key, value) in map["labels"]?.mapValue ?? [:] {
            labels[key] = value.stringValue ?? value.canonicalJSON
        }
        return (name, labels)
    }

    static func makeDirectory(_ path: String) throws(AgentError) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw AgentError(.dataDirectory, "creating \(path) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Reads a whole file, or `nil` if it does not exist.
    static func readIfPresent(_ path: String) throws(AgentError) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw AgentError(.dataDirectory, "reading \(path) failed: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count < 0 {
                if errno == EINTR { continue }
                throw AgentError(.dataDirectory, "reading \(path) failed: \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += buffer.prefix(count)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes `text` to a temporary file beside `path`, syncs it and renames it over `path`.
    static func replaceFile(_ path: String, with text: String, mode: mode_t) throws(AgentError) {
        let temporary = path + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw AgentError(.dataDirectory, "writing \(temporary) failed: \(String(cString: strerror(errno)))")
        }
        var bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeMutableBytes {
                write(descriptor, $0.baseAddress! + written, $0.count - written)
            }
            if count < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(descriptor)
                unlink(temporary)
                throw AgentError(.dataDirectory, "writing \(temporary) failed: \(reason)")
            }
            written += count
        }
        let synced = fsync(descriptor) == 0
        let reason = String(cString: strerror(errno))
        close(descriptor)
        guard synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw AgentError(
                .dataDirectory, "replacing \(path) failed: \(synced ? String(cString: strerror(errno)) : reason)")
        }
        bytes.removeAll()
    }
}
