import Foundation
import Testing
import TrellisDomain
import TrellisDrivers
import TrellisTestSupport

/// One real PostgreSQL server for the whole suite; each test works on databases and roles
/// of its own names, so the tests run in parallel against it.
struct SharedPostgresServer: SuiteTrait, TestScoping {
    @TaskLocal static var current: PostgresServer?

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await PostgresServer.withServer { server in
            try await Self.$current.withValue(server) { try await function() }
        }
    }
}

extension Trait where Self == SharedPostgresServer {
    /// Starts a PostgreSQL server before the suite's tests and stops it after them.
    static var postgresServer: Self { Self() }
}

@Suite("The postgres-database driver", .postgresServer)
struct PostgresDatabaseDriverTests {
    private let driver = PostgresDatabaseDriver()

    private var server: PostgresServer {
        get throws { try #require(SharedPostgresServer.current) }
    }

    /// Params for database `name` on the suite's server.
    private func params(_ name: String, migrations: [SpecValue] = [], port: Int? = nil) throws -> SpecMap {
        let server = try server
        return [
            "host": "127.0.0.1", "port": .int(port ?? server.port), "adminUser": .string(server.adminUser),
            "adminPassword": .string(server.adminPassword), "name": .string(name), "migrations": .list(migrations),
        ]
    }

    private func request(
        _ params: SpecMap, in directory: String? = nil, applied: DriverOutputs? = nil
    ) -> DriverRequest {
        DriverRequest(
            environment: "e", resource: "db", type: "postgres-database", params: params, attempt: 1,
            requestID: "e/db", environmentDirectory: directory, applied: applied)
    }

    private func password(_ outputs: DriverOutputs) throws -> String {
        try #require(outputs.values["password"]?.stringValue)
    }

    private func applyError(_ request: DriverRequest) async -> DriverError? {
        do {
            _ = try await driver.apply(request)
            return nil
        } catch {
            return error
        }
    }

    @Test("apply creates the role and the database and runs the migrations; the role logs in with its password")
    func apply() async throws {
        let server = try server
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        mkdir(temporary.environment, 0o700)
        mkdir(temporary.environment + "/migrations", 0o700)
        writeText(
            "CREATE TABLE items (id serial PRIMARY KEY, label text NOT NULL);\n",
            to: temporary.environment + "/migrations/001_items.sql")
        let migrations: [SpecValue] = [
            "migrations/001_items.sql", ["name": "002_seed", "sql": "INSERT INTO items (label) VALUES ('first');"],
        ]

        let outputs = try await driver.apply(
            request(try params("t_apply", migrations: migrations), in: temporary.environment))

        let password = try password(outputs)
        #expect(password.count == 24 && password.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        #expect(outputs.values["host"] == "127.0.0.1")
        #expect(outputs.values["port"] == .int(server.port))
        #expect(outputs.values["database"] == "t_apply")
        #expect(outputs.values["user"] == "t_apply")
        #expect(outputs.values["url"] == .string("postgresql://t_apply:\(password)@127.0.0.1:\(server.port)/t_apply"))
        #expect(outputs.secretKeys == ["password", "url"])

        let rows = try await server.query(
            "SELECT label FROM items", database: "t_apply", user: "t_apply", password: password)
        #expect(rows == "first")
        #expect(
            try await server.query("SELECT tableowner FROM pg_tables WHERE tablename = 'items'", database: "t_apply")
                == "t_apply")
        #expect(
            try await server.query("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 't_apply'")
                == "t_apply")
        #expect(
            try await server.query("SELECT name FROM trellis_migrations ORDER BY name", database: "t_apply")
                == "002_seed\nmigrations/001_items.sql")
        #expect(
            try await driver.observe(
                request(try params("t_apply", migrations: migrations), in: temporary.environment), applied: outputs)
                == .matches)
    }

    @Test("applying again changes nothing: the same password, no migration run twice, only new ones run")
    func applyAgain() async throws {
        let server = try server
        let seed: SpecValue = ["name": "seed", "sql": "CREATE TABLE hits (n int); INSERT INTO hits VALUES (1);"]
        let first = try await driver.apply(request(try params("t_again", migrations: [seed])))
        let records = "SELECT name, sha256, applied_at FROM trellis_migrations ORDER BY name"
        let recordedBefore = try await server.query(records, database: "t_again")
        let verifier = "SELECT rolpassword FROM pg_authid WHERE rolname = 't_again'"
        let verifierBefore = try await server.query(verifier)

        let second = try await driver.apply(request(try params("t_again", migrations: [seed]), applied: first))

        #expect(second == first)
        #expect(try await server.query(records, database: "t_again") == recordedBefore)
        #expect(try await server.query(verifier) == verifierBefore)
        #expect(try await server.query("SELECT count(*) FROM hits", database: "t_again") == "1")

        let more: SpecValue = ["name": "more", "sql": "INSERT INTO hits VALUES (2);"]
        let third = try await driver.apply(request(try params("t_again", migrations: [seed, more]), applied: second))
        #expect(third == first)
        #expect(try await server.query("SELECT sum(n) FROM hits", database: "t_again") == "3")
        let recordedAfter = try await server.query(records, database: "t_again")
        #expect(recordedAfter.split(separator: "\n").count == 2)
        #expect(recordedAfter.hasSuffix(recordedBefore))
        #expect(
            try await server.query(
                "SELECT count(*) FROM hits", database: "t_again", user: "t_again", password: password(first))
                == "2")
    }

    @Test("observe reports a dropped database missing, a dropped role or changed password drifted, and apply repairs")
    func drift() async throws {
        let server = try server
        let table: SpecValue = ["name": "001", "sql": "CREATE TABLE notes (body text);"]
        let params = try params("t_drift", migrations: [table])
        let outputs = try await driver.apply(request(params))
        #expect(try await driver.observe(request(params), applied: outputs) == .matches)

        try await server.query("DROP DATABASE t_drift WITH (FORCE)")
        #expect(
            try await driver.observe(request(params), applied: outputs) == .missing("database t_drift does not exist"))
        #expect(try await driver.apply(request(params, applied: outputs)) == outputs)
        #expect(try await driver.observe(request(params), applied: outputs) == .matches)
        #expect(
            try await server.query(
                "SELECT count(*) FROM notes", database: "t_drift", user: "t_drift", password: password(outputs)) == "0")

        try await server.query(
            "REASSIGN OWNED BY t_drift TO \(server.adminUser); DROP OWNED BY t_drift", database: "t_drift")
        try await server.query("DROP ROLE t_drift")
        #expect(try await driver.observe(request(params), applied: outputs) == .drifted("role t_drift does not exist"))
        #expect(try await driver.apply(request(params, applied: outputs)) == outputs)
        #expect(try await driver.observe(request(params), applied: outputs) == .matches)
        #expect(
            try await server.query("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 't_drift'")
                == "t_drift")

        try await server.query("ALTER ROLE t_drift PASSWORD 'changed-behind-its-back'")
        guard case .drifted(let reason) = try await driver.observe(request(params), applied: outputs) else {
            Issue.record("a changed password is not reported as drift")
            return
        }
        let password = try password(outputs)
        #expect(reason.contains("password") && !reason.contains(password))
        #expect(try await driver.apply(request(params, applied: outputs)) == outputs)
        #expect(try await driver.observe(request(params), applied: outputs) == .matches)

        let unapplied = try self.params("t_drift", migrations: [table, ["name": "002", "sql": "SELECT 1;"]])
        #expect(
            try await driver.observe(request(unapplied), applied: outputs) == .drifted("migration 002 is not applied"))
    }

    @Test("two applies at once both succeed, and each migration runs once")
    func concurrentApplies() async throws {
        let server = try server
        let applied = DriverOutputs(values: ["password": "shared-password-1234"], secretKeys: ["password"])
        let counter: SpecValue = ["name": "001", "sql": "CREATE TABLE runs (n int); INSERT INTO runs VALUES (1);"]
        let request = request(try params("t_concurrent", migrations: [counter]), applied: applied)

        async let first = driver.apply(request)
        async let second = driver.apply(request)
        let outputs = try await [first, second]

        #expect(outputs[0] == outputs[1])
        #expect(try await server.query("SELECT count(*) FROM runs", database: "t_concurrent") == "1")
        #expect(try await driver.observe(request, applied: outputs[0]) == .matches)
    }

    @Test("delete ends open sessions, drops the database and the role, and deleting again succeeds")
    func delete() async throws {
        let server = try server
        let params = try params("t_delete", migrations: [["name": "001", "sql": "CREATE TABLE t (x int);"]])
        let outputs = try await driver.apply(request(params))
        let session = try server.startSession(
            "SELECT pg_sleep(120)", database: "t_delete", user: "t_delete", password: password(outputs))
        defer { if session.isRunning { session.terminate() } }
        let sessions = "SELECT count(*) FROM pg_stat_activity WHERE datname = 't_delete'"
        #expect(try await eventually { try await server.query(sessions) == "1" })

        try await driver.delete(request(params))

        #expect(try await server.query("SELECT count(*) FROM pg_database WHERE datname = 't_delete'") == "0")
        #expect(try await server.query("SELECT count(*) FROM pg_roles WHERE rolname = 't_delete'") == "0")
        #expect(await eventually { !session.isRunning })
        try await driver.delete(request(params))
        #expect(
            try await driver.observe(request(params), applied: outputs) == .missing("database t_delete does not exist"))
    }

    @Test("a migration whose SQL changed after it was applied is refused, naming it, and not retried")
    func changedMigration() async throws {
        let server = try server
        let original: SpecValue = ["name": "001_create", "sql": "CREATE TABLE first (x int);"]
        let outputs = try await driver.apply(request(try params("t_changed", migrations: [original])))
        let changed: SpecValue = ["name": "001_create", "sql": "CREATE TABLE second (x int);"]

        let error = try #require(
            await applyError(request(try params("t_changed", migrations: [changed]), applied: outputs)))

        #expect(!error.retryable)
        #expect(error.message.hasPrefix("postgres-database: db: migration 001_create changed since it was applied"))
        #expect(try await server.query("SELECT to_regclass('second') IS NULL", database: "t_changed") == "t")
        #expect(try await server.query("SELECT count(*) FROM trellis_migrations", database: "t_changed") == "1")
    }

    @Test("a failing migration leaves neither its changes nor a record, and its fixed SQL then runs")
    func failingMigration() async throws {
        let server = try server
        let failing: SpecValue = ["name": "001", "sql": "CREATE TABLE half (x int); SELECT 1 / 0;"]
        let error = try #require(await applyError(request(try params("t_failing", migrations: [failing]))))

        #expect(!error.retryable)
        #expect(error.message.hasPrefix("postgres-database: db: migration 001: division by zero"))
        #expect(try await server.query("SELECT to_regclass('half') IS NULL", database: "t_failing") == "t")
        #expect(try await server.query("SELECT count(*) FROM trellis_migrations", database: "t_failing") == "0")

        let committing: SpecValue = ["name": "001", "sql": "CREATE TABLE early (x int); COMMIT;"]
        let ended = try #require(await applyError(request(try params("t_failing", migrations: [committing]))))
        #expect(ended.message.hasPrefix("postgres-database: db: migration 001: its SQL ended the transaction"))
        #expect(try await server.query("SELECT count(*) FROM trellis_migrations", database: "t_failing") == "0")

        let fixed: SpecValue = ["name": "001", "sql": "CREATE TABLE half (x int);"]
        _ = try await driver.apply(request(try params("t_failing", migrations: [fixed])))
        #expect(try await server.query("SELECT to_regclass('half') IS NOT NULL", database: "t_failing") == "t")
    }

    @Test("migration files are read from migrationsDir; a missing one fails naming its field before anything changes")
    func migrationsDirectory() async throws {
        let server = try server
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        mkdir(temporary.path + "/sql", 0o700)
        writeText("CREATE TABLE from_dir (x int);", to: temporary.path + "/sql/001.sql")
        var params = try params("t_dir", migrations: ["001.sql"])
        params["migrationsDir"] = .string(temporary.path + "/sql")
        _ = try await driver.apply(request(params))
        #expect(try await server.query("SELECT to_regclass('from_dir') IS NOT NULL", database: "t_dir") == "t")

        var missing = try self.params("t_dir_missing", migrations: ["absent.sql"])
        missing["migrationsDir"] = .string(temporary.path + "/sql")
        let error = try #require(await applyError(request(missing)))
        #expect(error.message.hasPrefix("postgres-database: db: params.migrations[0]: absent.sql in "))
        #expect(try await server.query("SELECT count(*) FROM pg_database WHERE datname = 't_dir_missing'") == "0")
    }

    @Test("a kept password may hold any characters, the url percent-encodes it, and a port may be a numeric string")
    func keptPassword() async throws {
        let server = try server
        let kept = "it's \"odd\" @:/%?#"
        let applied = DriverOutputs(values: ["password": .string(kept)], secretKeys: ["password"])
        var params = try params("t_kept")
        params["port"] = .string(String(server.port))
        let outputs = try await driver.apply(request(params, applied: applied))
        #expect(outputs.values["port"] == .int(server.port))
        #expect(outputs.values["password"] == .string(kept))
        #expect(
            outputs.values["url"]
                == .string(
                    "postgresql://t_kept:it%27s%20%22odd%22%20%40%3A%2F%25%3F%23@127.0.0.1:\(server.port)/t_kept"))
        #expect(
            try await server.query("SELECT current_user", database: "t_kept", user: "t_kept", password: kept)
                == "t_kept")
    }

    @Test("a server that cannot be reached is a retryable error with libpq's message")
    func unreachable() async throws {
        let port = try PostgresServer.freePort()
        let params = try params("t_unreachable", port: port)
        let error = try #require(await applyError(request(params)))
        #expect(error.retryable)
        #expect(error.message.hasPrefix("postgres-database: db: connecting to postgres at 127.0.0.1:\(port)"))
        #expect(error.message.contains("Connection refused"))
        #expect(!error.message.contains(try server.adminPassword))

        await #expect(throws: DriverError.self) {
            try await driver.observe(request(params), applied: DriverOutputs())
        }
        do {
            try await driver.delete(request(params))
            Issue.record("delete against an unreachable server succeeded")
        } catch {
            #expect(error.retryable)
        }
    }

    @Test("a wrong admin password is not retryable, and the message does not hold it")
    func wrongPassword() async throws {
        var params = try params("t_wrong")
        params["adminPassword"] = "not-the-password-1234"
        let error = try #require(await applyError(request(params)))
        #expect(!error.retryable)
        #expect(error.message.hasPrefix("postgres-database: db: connecting to postgres"))
        #expect(error.message.contains("password authentication failed"))
        #expect(!error.message.contains("not-the-password-1234"))
    }

    @Test(
        "bad params are refused, each naming its field",
        arguments: [
            (["name": nil], "params.name"),
            (["adminUser": nil], "params.adminUser"),
            (["name": "Upper"], "params.name"),
            (["name": .string(String(repeating: "a", count: 64))], "params.name"),
            (["name": "template1"], "params.name"),
            (["user": "pg_monitor"], "params.user"),
            (["user": "trellis_admin"], "params.user"),
            (["port": 70000], "params.port"),
            (["port": "five"], "params.port"),
            (["host": "a host"], "params.host"),
            (["colour": "blue"], "params.colour"),
            (["migrations": "001.sql"], "params.migrations"),
            (["migrations": ["001.sql", "../up.sql"]], "params.migrations[1]"),
            (["migrations": ["/etc/passwd"]], "params.migrations[0]"),
            (["migrations": [["name": "x"]]], "params.migrations[0]"),
            (["migrations": [42]], "params.migrations[0]"),
            (["migrations": ["a.sql", ["name": "a.sql", "sql": ""]]], "params.migrations[1]"),
            (["migrationsDir": "relative/dir"], "params.migrationsDir"),
        ] as [(SpecMap, String)])
    func badParams(_ changes: SpecMap, _ field: String) async throws {
        var params: SpecMap = ["adminUser": "trellis_admin", "name": "t_bad"]
        for (key, value) in changes.entries { params[key] = value.isNull ? nil : value }

        #expect(driver.validate(params).map(\.path) == [field])
        let error = try #require(await applyError(request(params)))
        #expect(error.message.hasPrefix("postgres-database: db: invalid params: \(field): "))
    }

    @Test(
        "names that look like SQL injection are refused by validation",
        arguments: [
            "x\"; DROP DATABASE postgres; --", "a'b", "x; DROP ROLE trellis_admin", "\"quoted\"", "Robert", "1abc",
            "a b", "ünï", "",
        ])
    func injection(_ name: String) async throws {
        let server = try server
        #expect(driver.validate(["adminUser": "a", "name": .string(name)]).map(\.path) == ["params.name"])
        #expect(
            driver.validate(["adminUser": "a", "name": "ok", "user": .string(name)]).map(\.path) == ["params.user"])
        let error = try #require(await applyError(request(try params(name))))
        #expect(error.message.hasPrefix("postgres-database: db: invalid params: params.name: "))
        // Other tests' databases come and go meanwhile; the server's own are untouched.
        let own = "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname NOT LIKE 't\\_%'"
        #expect(try await server.query(own) == "postgres,template0,template1")
        #expect(try await server.query("SELECT rolsuper FROM pg_roles WHERE rolname = '\(server.adminUser)'") == "t")
    }

    @Test("params holding placeholders are accepted until they are substituted")
    func placeholders() {
        let params: SpecMap = [
            "host": "${resources.pg.outputs.host}", "port": "${resources.pg.outputs.port}",
            "adminUser": "${secrets.pgAdmin}", "adminPassword": "${secrets.pgPassword}",
            "name": "${environment.name}_app", "user": "${environment.name}", "migrationsDir": "${vars.dir}",
            "migrations": ["${vars.first}", "002.sql"],
        ]
        #expect(driver.validate(params) == [])
    }
}
