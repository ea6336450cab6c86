import Glibc
import Synchronization
import Testing
import TrellisDomain
import TrellisDrivers
import TrellisTestSupport

/// Runs the driver against real programs (python3 and /bin/sh) in a temporary
/// environment directory, one supervisor per test, stopped at the end.
@Suite("The process driver")
struct ProcessDriverTests {
    @Test("apply starts the program, applying again keeps it, changed params replace it")
    func applyIsIdempotentAndReplaces() async throws {
        try await withDriver { driver, fixture in
            let first = try await driver.apply(fixture.request(["command": ["sleep", "60"]]))
            let pid = try #require(first.values["pid"]?.intValue)
            #expect(isAlive(pid))

            let again = try await driver.apply(fixture.request(["command": ["sleep", "60"]]))
            #expect(again.values["pid"]?.intValue == pid)

            let changed = try await driver.apply(fixture.request(["command": ["sleep", "61"]]))
            let newPID = try #require(changed.values["pid"]?.intValue)
            #expect(newPID != pid)
            #expect(isAlive(newPID))
            #expect(!isAlive(pid))
        }
    }

    @Test("returns the pid and the declared outputs")
    func outputs() async throws {
        try await withDriver { driver, fixture in
            let outputs = try await driver.apply(
                fixture.request(["command": ["sleep", "60"], "outputs": ["url": "http://127.0.0.1:1"]]))
            #expect(outputs.values["url"] == "http://127.0.0.1:1")
            #expect(outputs.values["pid"]?.intValue != nil)
        }
    }

    @Test("a program killed with SIGKILL is restarted under restart: always")
    func restartsAlways() async throws {
        try await withDriver { driver, fixture in
            let params: SpecMap = ["command": ["sleep", "60"], "restart": "always"]
            let pid = try #require(try await driver.apply(fixture.request(params)).values["pid"]?.intValue)
            kill(pid_t(pid), SIGKILL)
            let restarted = await eventually {
                guard let current = driver.supervisor.pid(environment: "env", resource: "svc") else { return false }
                return current != pid && isAlive(Int(current))
            }
            #expect(restarted)
            #expect(try await driver.observe(fixture.request(params), applied: DriverOutputs()) == .matches)
        }
    }

    @Test("a program killed under restart: never stays dead and observes as missing")
    func neverRestarts() async throws {
        try await withDriver { driver, fixture in
            let params: SpecMap = ["command": ["sleep", "60"], "restart": "never"]
            let pid = try #require(try await driver.apply(fixture.request(params)).values["pid"]?.intValue)
            kill(pid_t(pid), SIGKILL)
            var observation = Observation.matches
            let missing = try await eventually {
                observation = try await driver.observe(fixture.request(params), applied: DriverOutputs())
                return observation != .matches
            }
            #expect(missing)
            #expect(observation == .missing("process was killed by signal 9"))
        }
    }

    @Test("a program that exits non-zero is restarted under on-failure, one that exits 0 is not")
    func onFailure() async throws {
        try await withDriver { driver, fixture in
            let failing: SpecMap = ["command": ["sh", "-c", "echo started; exit 3"]]
            _ = try await driver.apply(fixture.request(failing))
            let restarts = await eventually { fixture.sink.lines.filter { $0.text == "started" }.count >= 3 }
            #expect(restarts)

            let succeeding: SpecMap = ["command": ["sh", "-c", "exit 0"]]
            _ = try await driver.apply(fixture.request(succeeding, resource: "once"))
            let exited = try await eventually {
                try await driver.observe(fixture.request(succeeding, resource: "once"), applied: DriverOutputs())
                    == .missing("process exited with status 0")
            }
            #expect(exited)
        }
    }

    @Test("an HTTP service becomes healthy before apply returns, and observes as matching")
    func httpHealthy() async throws {
        try await withDriver { driver, fixture in
            let port = try freePort()
            let params: SpecMap = [
                "command": ["python3", "-c", .string(httpServer), .int(port), 200],
                "health": ["http": ["port": .int(port), "path": "/healthz", "status": 200], "interval": "200ms"],
            ]
            let outputs = try await driver.apply(fixture.request(params))
            #expect(try await driver.observe(fixture.request(params), applied: outputs) == .matches)

            // A slow start may first be reported unhealthy, once the start-up grace
            // (interval × threshold) has passed; the last change is the healthy one.
            var changes = driver.supervisor.healthChanges.makeAsyncIterator()
            var change = await changes.next()
            while change?.healthy == false { change = await changes.next() }
            #expect(change?.healthy == true)
            #expect(change?.resource == "svc")
            #expect(change.map { Int($0.pid) } == outputs.values["pid"]?.intValue)
        }
    }

    @Test("a service whose health endpoint fails observes as drifted")
    func httpUnhealthy() async throws {
        var configuration = ProcessSupervisor.Configuration()
        configuration.healthyWithin = .seconds(1)
        try await withDriver(configuration) { driver, fixture in
            let port = try freePort()
            let params: SpecMap = [
                "command": ["python3", "-c", .string(httpServer), .int(port), 500],
                "health": ["http": ["port": .int(port)], "interval": "100ms", "threshold": 2],
            ]
            let error = await #expect(throws: DriverError.self) {
                _ = try await driver.apply(fixture.request(params))
            }
            #expect(error?.retryable == true)

            // Until the server listens, the reason is a refused connection.
            let expected = Observation.drifted(
                "health check failed: http 127.0.0.1:\(port)/ answered 500, expected 200")
            let drifted = try await eventually {
                try await driver.observe(fixture.request(params), applied: DriverOutputs()) == expected
            }
            #expect(drifted)
        }
    }

    @Test("tcp and exec health checks pass for a listening service")
    func tcpAndExecHealth() async throws {
        try await withDriver { driver, fixture in
            let port = try freePort()
            _ = try await driver.apply(
                fixture.request([
                    "command": ["python3", "-c", .string(httpServer), .int(port), 200],
                    "health": ["tcp": .int(port), "interval": "100ms"],
                ]))
            _ = try await driver.apply(
                fixture.request(
                    ["command": ["sleep", "60"], "health": ["exec": ["sh", "-c", "exit 0"], "interval": "100ms"]],
                    resource: "checked"))
        }
    }

    @Test("stdout and stderr are captured line by line with their streams, in order, with timestamps")
    func capturesOutput() async throws {
        try await withDriver { driver, fixture in
            let script = "echo one; echo two >&2; echo three; printf 'no newline'; sleep 60"
            let before = wallClock()
            _ = try await driver.apply(fixture.request(["command": ["sh", "-c", .string(script)]]))
            let complete = await eventually { fixture.sink.lines.count >= 3 }
            #expect(complete)
            let lines = fixture.sink.lines
            #expect(lines.filter { $0.stream == .stdout }.map(\.text) == ["one", "three"])
            #expect(lines.filter { $0.stream == .stderr }.map(\.text) == ["two"])
            #expect(lines.allSatisfy { $0.environment == "env" && $0.resource == "svc" })
            #expect(lines.allSatisfy { $0.timestampNanoseconds >= before && $0.timestampNanoseconds <= wallClock() })
            #expect(zip(lines, lines.dropFirst()).allSatisfy { $0.timestampNanoseconds <= $1.timestampNanoseconds })
        }
    }

    @Test("a line longer than 16 KiB arrives in pieces")
    func splitsLongLines() async throws {
        try await withDriver { driver, fixture in
            _ = try await driver.apply(
                fixture.request([
                    "command": ["python3", "-c", "import time; print('x' * 40000, flush=True); time.sleep(60)"]
                ]))
            let complete = await eventually { fixture.sink.lines.map(\.text.count).reduce(0, +) >= 40_000 }
            #expect(complete)
            #expect(fixture.sink.lines.map(\.text.count) == [16_384, 16_384, 7_232])
        }
    }

    @Test("a slow sink drops lines rather than stalling the program")
    func slowSinkDrops() async throws {
        var configuration = ProcessSupervisor.Configuration()
        configuration.outputQueueCapacity = 100
        try await withDriver(configuration, sink: ProcessOutputCollector(delay: .milliseconds(5))) { driver, fixture in
            let script = "for i in range(20000): print(i)\nprint('done', flush=True)"
            let params: SpecMap = ["command": ["python3", "-c", .string(script)], "restart": "never"]
            _ = try await driver.apply(fixture.request(params))
            let exited = try await eventually(timeout: .seconds(10)) {
                try await driver.observe(fixture.request(params), applied: DriverOutputs())
                    == .missing("process exited with status 0")
            }
            #expect(exited)
            #expect(driver.supervisor.droppedLineCount(environment: "env", resource: "svc") > 0)
        }
    }

    @Test("limits are applied as rlimits in the program")
    func appliesLimits() async throws {
        try await withDriver { driver, fixture in
            let script = """
                import resource
                print(resource.getrlimit(resource.RLIMIT_NOFILE)[0], resource.getrlimit(resource.RLIMIT_AS)[0], \
                resource.getrlimit(resource.RLIMIT_CPU)[0], flush=True)
                """
            _ = try await driver.apply(
                fixture.request([
                    "command": ["python3", "-c", .string(script), "arguments stay separate; $(not run)"],
                    "limits": ["openFiles": 64, "memory": "512Mi", "cpuSeconds": 30],
                    "restart": "never",
                ]))
            let printed = await eventually { !fixture.sink.lines.isEmpty }
            #expect(printed)
            #expect(fixture.sink.lines.first?.text == "64 \(512 << 20) 30")
        }
    }

    @Test("env and workingDir reach the program")
    func environmentAndDirectory() async throws {
        try await withDriver { driver, fixture in
            #expect(mkdir(fixture.directory + "/app", 0o755) == 0)
            _ = try await driver.apply(
                fixture.request([
                    "command": ["sh", "-c", "echo \"$GREETING\" \"$(pwd)\"; sleep 60"],
                    "env": ["GREETING": "hello"], "workingDir": "app",
                ]))
            let printed = await eventually { !fixture.sink.lines.isEmpty }
            #expect(printed)
            #expect(fixture.sink.lines.first?.text == "hello \(fixture.directory)/app")
        }
    }

    @Test("the program gets descriptors 0, 1 and 2 only, even where the agent has inheritable ones")
    func inheritsNoDescriptors() async throws {
        var ends: [Int32] = [-1, -1]
        #expect(pipe(&ends) == 0)  // no close-on-exec
        defer { ends.forEach { close($0) } }
        try await withDriver { driver, fixture in
            let script = "import os; print(sorted(int(fd) for fd in os.listdir('/proc/self/fd')), flush=True)"
            _ = try await driver.apply(
                fixture.request(["command": ["python3", "-c", .string(script)], "restart": "never"]))
            let printed = await eventually { !fixture.sink.lines.isEmpty }
            #expect(printed)
            // The listing's own descriptor is the one more than 0, 1 and 2.
            #expect(fixture.sink.lines.first?.text == "[0, 1, 2, 3]")
        }
    }

    @Test("working directories that leave the environment's directory are rejected")
    func rejectsEscapes() async throws {
        try await withDriver { driver, fixture in
            let absolute = driver.validate(["command": ["true"], "workingDir": "/tmp"])
            #expect(absolute.map(\.path) == ["params.workingDir"])
            let parent = driver.validate(["command": ["true"], "workingDir": "a/../../b"])
            #expect(parent.map(\.path) == ["params.workingDir"])

            #expect(symlink("/tmp", fixture.directory + "/link") == 0)
            let error = await #expect(throws: DriverError.self) {
                _ = try await driver.apply(fixture.request(["command": ["sleep", "60"], "workingDir": "link"]))
            }
            #expect(error?.message.contains("symlink") == true)
        }
    }

    @Test("validation names each bad field")
    func validation() {
        let supervisor = try! ProcessSupervisor()
        defer { supervisor.shutdown() }
        let problems = ProcessDriver(supervisor: supervisor).validate([
            "command": "python3 server.py", "restart": "sometimes", "colour": "red",
            "health": ["http": ["port": 70_000], "interval": "soon"],
            "limits": ["memory": "lots", "openFiles": "${resources.x.outputs.n}"],
            "env": ["A": ["list"]],
        ])
        #expect(
            problems.map(\.path).sorted() == [
                "params.colour", "params.command", "params.env.A", "params.health.http.port",
                "params.health.interval", "params.limits.memory", "params.restart",
            ])
        #expect(ProcessDriver(supervisor: supervisor).validate(["command": ["sleep", 5]]).isEmpty)
    }

    @Test("delete stops the whole process group, grandchildren included")
    func deleteStopsGroup() async throws {
        try await withDriver { driver, fixture in
            let params: SpecMap = ["command": ["sh", "-c", "sleep 60 & echo $!; wait"]]
            let pid = try #require(try await driver.apply(fixture.request(params)).values["pid"]?.intValue)
            let printed = await eventually { !fixture.sink.lines.isEmpty }
            #expect(printed)
            let grandchild = try #require(fixture.sink.lines.first.flatMap { Int($0.text) })
            #expect(isAlive(grandchild))

            try await driver.delete(fixture.request(params))
            #expect(!isAlive(pid))
            #expect(!isAlive(grandchild))
            #expect(access(fixture.directory + "/.trellis-processes/svc.json", F_OK) != 0)
            #expect(try await driver.observe(fixture.request(params), applied: DriverOutputs()) != .matches)
            try await driver.delete(fixture.request(params))
        }
    }

    @Test("a program that ignores SIGTERM is killed after the grace")
    func killsAfterGrace() async throws {
        var configuration = ProcessSupervisor.Configuration()
        configuration.stopGrace = .milliseconds(300)
        try await withDriver(configuration) { driver, fixture in
            let params: SpecMap = ["command": ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"]]
            let pid = try #require(try await driver.apply(fixture.request(params)).values["pid"]?.intValue)
            let ready = await eventually { !fixture.sink.lines.isEmpty }
            #expect(ready)
            try await driver.delete(fixture.request(params))
            #expect(!isAlive(pid))
        }
    }

    @Test("a new supervisor recognises the program from the state file and starts no second copy")
    func recognisesAfterRestart() async throws {
        let fixture = try Fixture()
        defer { fixture.remove() }
        let params: SpecMap = ["command": ["python3", "-c", "import time; time.sleep(60.5)"]]

        let first = try ProcessSupervisor()
        let pid = try #require(
            try await ProcessDriver(supervisor: first).apply(fixture.request(params)).values["pid"]?.intValue)
        first.shutdown()

        let second = try ProcessSupervisor()
        defer { second.shutdown() }
        let driver = ProcessDriver(supervisor: second)
        #expect(try await driver.observe(fixture.request(params), applied: DriverOutputs()) == .matches)
        #expect(try await driver.apply(fixture.request(params)).values["pid"]?.intValue == pid)
        #expect(processCount(matching: "time.sleep(60.5)") == 1)

        try await driver.delete(fixture.request(params))
        #expect(!isAlive(pid))
    }

    @Test("a state file naming a pid that now belongs to another process is not trusted")
    func ignoresRecycledPID() async throws {
        try await withDriver { driver, fixture in
            #expect(mkdir(fixture.directory + "/.trellis-processes", 0o700) == 0)
            // This test process's pid, with a start time that is not its own.
            let record = "{\"pid\":\(getpid()),\"startTicks\":\"1\",\"specHash\":\"x\",\"startedAt\":0}"
            try write(record, to: fixture.directory + "/.trellis-processes/svc.json")
            let params: SpecMap = ["command": ["sleep", "60"]]
            #expect(
                try await driver.observe(fixture.request(params), applied: DriverOutputs())
                    == .missing("process is not running"))
            let pid = try #require(try await driver.apply(fixture.request(params)).values["pid"]?.intValue)
            #expect(pid != Int(getpid()))
        }
    }
}

// MARK: - Fixtures

/// A small HTTP server: `python3 -c httpServer PORT STATUS` answers every GET with STATUS.
private let httpServer = """
    import http.server, sys
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(int(sys.argv[2]))
            self.end_headers()
        def log_message(self, *args):
            pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """

/// Collects lines, optionally slowly (to stand for a sink that falls behind).
final class ProcessOutputCollector: OutputSink {
    private let collected = Mutex<[OutputLine]>([])
    private let delay: Duration?

    init(delay: Duration? = nil) {
        self.delay = delay
    }

    func write(_ line: OutputLine) {
        if let delay {
            let (seconds, attoseconds) = delay.components
            usleep(UInt32(seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
        }
        collected.withLock { $0.append(line) }
    }

    var lines: [OutputLine] { collected.withLock { $0 } }
}

/// A temporary environment directory and the requests for resources in it.
struct Fixture {
    let directory: String
    let sink: ProcessOutputCollector

    init(sink: ProcessOutputCollector = ProcessOutputCollector()) throws {
        var template = Array("/tmp/trellis-process-XXXXXX".utf8CString)
        guard let path = mkdtemp(&template) else { throw DriverError("mkdtemp failed") }
        directory = String(cString: path)
        self.sink = sink
    }

    func request(_ params: SpecMap, resource: String = "svc") -> DriverRequest {
        DriverRequest(
            environment: "env", resource: resource, type: "process", params: params, attempt: 1,
            requestID: "env/\(resource)", environmentDirectory: directory, output: sink)
    }

    func remove() {
        _ = system("rm -rf '\(directory)'")
    }
}

/// Runs `body` with a fresh supervisor and environment directory; stops every program
/// and the supervisor afterwards, whether `body` threw or not.
private func withDriver(
    _ configuration: ProcessSupervisor.Configuration = ProcessSupervisor.Configuration(),
    sink: ProcessOutputCollector = ProcessOutputCollector(),
    _ body: (ProcessDriver, Fixture) async throws -> Void
) async throws {
    let supervisor = try ProcessSupervisor(configuration: configuration)
    let fixture = try Fixture(sink: sink)
    do {
        try await body(ProcessDriver(supervisor: supervisor), fixture)
    } catch {
        await supervisor.stopAll()
        supervisor.shutdown()
        fixture.remove()
        throw error
    }
    await supervisor.stopAll()
    supervisor.shutdown()
    fixture.remove()
}

/// Whether `pid` is a live process (zombies, whose parent has yet to reap them, are not).
private func isAlive(_ pid: Int) -> Bool {
    guard let stat = try? read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// Live processes whose command line contains `text`.
private func processCount(matching text: String) -> Int {
    guard let directory = opendir("/proc") else { return 0 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
        }
        guard let pid = Int(name), isAlive(pid), let line = try? read("/proc/\(pid)/cmdline") else { continue }
        if line.contains(text) { count += 1 }
    }
    return count
}

/// A loopback TCP port nothing listens on now.
/// A port that is free now, from 10000-19999: below the kernel's ephemeral range, where
/// every other test's port-0 listener lands, so none of them can take it between this
/// check and the service binding it.
private func freePort() throws -> Int {
    for _ in 0..<200 {
        let candidate = Int.random(in: 10_000...19_999)
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(candidate).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 }
        }
        if bound { return candidate }
    }
    throw DriverError("no free port in 10000-19999")
}

private func wallClock() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
}

private func read(_ path: String) throws -> String {
    guard let file = fopen(path, "r") else { throw DriverError("cannot open \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count <= 0 { break }
        bytes += buffer[..<count]
    }
    return String(decoding: bytes.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
}

private func write(_ text: String, to path: String) throws {
    guard let file = fopen(path, "w") else { throw DriverError("cannot create \(path)") }
    defer { fclose(file) }
    fputs(text, file)
}
