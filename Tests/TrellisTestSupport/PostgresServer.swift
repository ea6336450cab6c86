import Foundation
import Synchronization

/// A real, throwaway PostgreSQL server for one test or suite: its own data directory in
/// a temporary directory, listening on a free loopback port, with password
/// authentication (`scram-sha-256`) for every connection, so credentials are checked.
///
/// ```swift
/// try await PostgresServer.withServer { server in
///     // connect to 127.0.0.1:server.port as server.adminUser with server.adminPassword
///     #expect(try await server.query("SELECT 1") == "1")
/// }
/// ```
///
/// or `let server = try await PostgresServer.start()` and, at the end, `await server.stop()`.
///
/// The binaries are the newest under `/usr/lib/postgresql/*/bin` (Debian's `postgresql`
/// package, which `make test` installs); without them `start()` throws. PostgreSQL
/// refuses to run as root, so as root `initdb` and `postgres` run as the `postgres` user
/// (through `setpriv`), on a directory that user owns.
public final class PostgresServer: @unchecked Sendable {
    // @unchecked Sendable: every stored property is a constant; `process` is only
    // signalled and polled after start, and `stopped` is behind a Mutex.
    public let host = "127.0.0.1"
    public let port: Int
    /// A superuser that logs in with `adminPassword`.
    public let adminUser: String
    public let adminPassword: String
    /// The temporary directory: the data directory (`data`), the unix socket, the log.
    public let directory: String
    /// The PostgreSQL binaries used, e.g. `/usr/lib/postgresql/15/bin`.
    public let binDirectory: String

    private let process: Process
    private let stopped = Mutex(false)

    private init(
        port: Int, adminUser: String, adminPassword: String, directory: String, binDirectory: String, process: Process
    ) {
        self.port = port
        self.adminUser = adminUser
        self.adminPassword = adminPassword
        self.directory = directory
        self.binDirectory = binDirectory
        self.process = process
    }

    deinit {
        // A server never stopped (a test that threw past its stop) is killed, not left
        // running; its directory is left for inspection.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// What the server wrote to its log so far.
    public var log: String {
        (try? String(contentsOfFile: directory + "/postgres.log", encoding: .utf8)) ?? ""
    }

    /// Creates a cluster, starts the server and returns once it accepts connections.
    public static func start(timeout: Duration = .seconds(120)) async throws -> PostgresServer {
        let binDirectory = try findBinaries()
        let directory = try makeTemporaryDirectory()
        do {
            let identity = try ServerIdentity.current()
            try identity.own(directory)
            let adminUser = "trellis_admin"
            let adminPassword = randomPassword()
            try await initializeCluster(
                binDirectory: binDirectory, directory: directory, adminUser: adminUser, password: adminPassword,
                identity: identity)

            var failures: [String] = []
            for _ in 0..<5 {
                let port = try freePort()
                let process = try launch(
                    binDirectory: binDirectory, directory: directory, port: port, identity: identity)
                let server = PostgresServer(
                    port: port, adminUser: adminUser, adminPassword: adminPassword, directory: directory,
                    binDirectory: binDirectory, process: process)
                if try await server.waitUntilReady(timeout: timeout) { return server }
                let log = server.log
                server.stopped.withLock { $0 = true }
                if process.isRunning {
                    kill(process.processIdentifier, SIGKILL)
                    process.waitUntilExit()
                    throw PostgresServerError(
                        "PostgreSQL did not accept connections within \(timeout); its log:\n\(log)")
                }
                // Another test took the port between the check and the bind: try another.
                guard log.contains("could not bind") || log.contains("Address already in use") else {
                    throw PostgresServerError("PostgreSQL exited while starting; its log:\n\(log)")
                }
                failures.append("port \(port) was taken")
            }
            throw PostgresServerError("PostgreSQL could not bind a port: " + failures.joined(separator: ", "))
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// Runs `body` with a started server and stops it afterwards, whether `body` threw or not.
    public static func withServer<T>(_ body: (PostgresServer) async throws -> T) async throws -> T {
        let server = try await start()
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    /// Stops the server (SIGTERM, then SIGKILL after 30 seconds), waits for it to exit and
    /// removes its directory. Stopping twice does nothing.
    public func stop() async {
        guard
            !stopped.withLock({ stopped in
                defer { stopped = true }; return stopped
            })
        else { return }
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let exited = await eventually(timeout: .seconds(30)) { !process.isRunning }
            if !exited {
                kill(process.processIdentifier, SIGKILL)
                _ = await eventually(timeout: .seconds(30)) { !process.isRunning }
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `sql` with `psql` (by default as the admin, in `postgres`) and returns what it
    /// printed: unaligned rows, one a line, columns separated by `|`, without headers.
    /// Throws with psql's stderr when the connection or a statement fails.
    @discardableResult
    public func query(
        _ sql: String, database: String = "postgres", user: String? = nil, password: String? = nil
    ) async throws -> String {
        let outcome = try await runPsql(sql, database: database, user: user, password: password)
        guard outcome.status == 0 else {
            throw PostgresServerError("psql exited with \(outcome.status): \(outcome.stderr)")
        }
        return outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Starts `psql` running `sql` and returns it running, for sessions a test keeps open
    /// (`SELECT pg_sleep(60)`); the caller ends it.
    public func startSession(
        _ sql: String, database: String = "postgres", user: String? = nil, password: String? = nil
    ) throws -> Process {
        let process = psqlProcess(sql, database: database, user: user, password: password)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    private func runPsql(
        _ sql: String, database: String, user: String?, password: String?
    ) async throws
        -> ProcessOutcome
    {
        let process = psqlProcess(sql, database: database, user: user, password: password)
        return try await runBlocking { try Self.runToEnd(process) }
    }

    private func psqlProcess(_ sql: String, database: String, user: String?, password: String?) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binDirectory + "/psql")
        process.arguments = [
            "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", String(port), "-U",
            user ?? adminUser, "-d", database, "-c", sql,
        ]
        process.environment = [
            "PATH": "/usr/bin:/bin", "LC_ALL": "C", "PGPASSWORD": password ?? adminPassword, "PGCONNECT_TIMEOUT": "10",
        ]
        return process
    }

    /// Polls a real connection until one succeeds; false when the server exited first.
    private func waitUntilReady(timeout: Duration) async throws -> Bool {
        var ready = false
        _ = try await eventually(timeout: timeout, poll: .milliseconds(100)) {
            guard process.isRunning else { return true }
            let outcome = try await runPsql("SELECT 1", database: "postgres", user: nil, password: nil)
            ready = outcome.status == 0 && outcome.stdout.contains("1")
            return ready
        }
        return ready && process.isRunning
    }
}

/// A failure to start or use a test server.
public struct PostgresServerError: Error, CustomStringConvertible {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { "PostgresServer: \(message)" }
}
