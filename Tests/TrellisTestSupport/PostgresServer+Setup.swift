import Foundation

/// Who runs `initdb` and `postgres`: this process's user, or `postgres` when that is root.
struct ServerIdentity {
    /// The uid and gid to switch to, when running as root.
    var switchTo: (uid: uid_t, gid: gid_t)?

    static func current() throws -> ServerIdentity {
        guard getuid() == 0 else { return ServerIdentity(switchTo: nil) }
        guard let entry = getpwnam("postgres") else {
            throw PostgresServerError(
                "running as root, and there is no postgres user to run PostgreSQL as (the postgresql package "
                    + "creates it; `make test` installs the package)")
        }
        return ServerIdentity(switchTo: (entry.pointee.pw_uid, entry.pointee.pw_gid))
    }

    /// Gives `path` to the server's user.
    func own(_ path: String) throws {
        guard let (uid, gid) = switchTo else { return }
        guard chown(path, uid, gid) == 0 else {
            throw PostgresServerError("chown \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The executable and arguments that run `argv` as the server's user: through
    /// `setpriv`, which execs the program itself, so signals reach it directly.
    func command(_ argv: [String]) -> (executable: String, arguments: [String]) {
        guard let (uid, gid) = switchTo else { return (argv[0], Array(argv.dropFirst())) }
        return ("/usr/bin/setpriv", ["--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--"] + argv)
    }
}

extension PostgresServer {
    static let installHint = "`make test` installs the postgresql package, which provides them"

    /// The newest `/usr/lib/postgresql/VERSION/bin` holding `initdb`, `postgres` and `psql`.
    static func findBinaries() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let candidates = versions.compactMap { name in Double(name).map { (version: $0, path: "\(root)/\(name)/bin") } }
            .sorted { $0.version > $1.version }
        for candidate in candidates
        where ["initdb", "postgres", "psql"].allSatisfy({
            FileManager.default.isExecutableFile(atPath: "\(candidate.path)/\($0)")
        }) {
            return candidate.path
        }
        throw PostgresServerError(
            "no PostgreSQL server binaries (initdb, postgres, psql) under \(root)/*/bin; \(installHint)")
    }

    static func makeTemporaryDirectory() throws -> String {
        var template = Array("/tmp/trellis-postgres-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw PostgresServerError("mkdtemp: \(String(cString: strerror(errno)))")
        }
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    static func randomPassword() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<24).map { _ in alphabet.randomElement()! })
    }

    /// Runs `initdb` for a cluster in `DIRECTORY/data` whose only role is the admin, with
    /// its password from a file that is removed afterwards.
    static func initializeCluster(
        binDirectory: String, directory: String, adminUser: String, password: String, identity: ServerIdentity
    ) async throws {
        let passwordFile = directory + "/pwfile"
        guard FileManager.default.createFile(atPath: passwordFile, contents: Data((password + "\n").utf8)) else {
            throw PostgresServerError("cannot write \(passwordFile)")
        }
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }
        try identity.own(passwordFile)

        let (executable, arguments) = identity.command([
            binDirectory + "/initdb", "-D", directory + "/data", "-U", adminUser, "--pwfile=\(passwordFile)",
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync",
        ])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
        let outcome = try await runBlocking { try runToEnd(process) }
        guard outcome.status == 0 else {
            throw PostgresServerError("initdb exited with \(outcome.status):\n\(outcome.stdout)\n\(outcome.stderr)")
        }
    }

    /// Starts `postgres` on 127.0.0.1:`port`, its socket in `directory`, its output in
    /// `directory/postgres.log`. Durability is off: the cluster is thrown away.
    static func launch(binDirectory: String, directory: String, port: Int, identity: ServerIdentity) throws -> Process {
        let logPath = directory + "/postgres.log"
        guard FileManager.default.createFile(atPath: logPath, contents: nil),
            let log = FileHandle(forWritingAtPath: logPath)
        else {
            throw PostgresServerError("cannot create \(logPath)")
        }
        defer { try? log.close() }
        _ = try? log.seekToEnd()
        let (executable, arguments) = identity.command([
            binDirectory + "/postgres", "-D", directory + "/data", "-p", String(port), "-c",
            "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=\(directory)", "-c", "fsync=off", "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off", "-c", "shared_buffers=16MB", "-c", "max_connections=50",
        ])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        process.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        return process
    }

    /// A port free on 127.0.0.1 at the time of asking, found by binding port 0. Another
    /// process may take it before the server binds; `start()` then tries again.
    public static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw PostgresServerError("socket: \(String(cString: strerror(errno)))") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw PostgresServerError("bind: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard named == 0 else { throw PostgresServerError("getsockname: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs `process` to its end, reading its output as it goes.
    static func runToEnd(_ process: Process) throws -> ProcessOutcome {
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes before waiting, so a chatty child cannot block on a full pipe;
        // stderr on another thread, so that neither pipe waits on the other.
        let errors = CollectedData()
        let reading = DispatchGroup()
        DispatchQueue.global().async(group: reading) { errors.data = err.fileHandleForReading.readDataToEndOfFile() }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        reading.wait()
        return ProcessOutcome(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: errors.data, as: UTF8.self))
    }
}

/// Bytes one thread reads for another.
///
/// @unchecked Sendable: `data` is written once, before the DispatchGroup the reader runs
/// in is left, and read only after waiting for that group.
private final class CollectedData: @unchecked Sendable {
    var data = Data()
}
