import Glibc
import Testing
import TrellisDomain
import TrellisDrivers

@Suite("The exec driver")
struct ExecDriverTests {
    private let driver = ExecDriver(killGrace: .milliseconds(300))

    /// A temporary environment directory holding the given scripts.
    private func environment(_ scripts: [String: String]) -> TemporaryDirectory {
        let temporary = TemporaryDirectory()
        mkdir(temporary.environment, 0o700)
        for (name, text) in scripts { writeScript(text, to: temporary.environment + "/" + name) }
        return temporary
    }

    @Test("a program still open for writing when it is run starts once the writer lets go of it")
    func programBusyWhileWritten() async throws {
        let temporary = environment([
            "apply.sh": """
            #!/bin/sh
            cat > /dev/null
            echo '{"outputs": {"ran": "yes"}}'
            """
        ])
        defer { temporary.remove() }
        // As a child being started elsewhere would, hold the file open for writing: the
        // kernel refuses to execute it (ETXTBSY) until that descriptor is closed.
        let writer = open(temporary.environment + "/apply.sh", O_WRONLY)
        try #require(writer >= 0)
        let request = driverRequest("exec", ["apply": ["./apply.sh"]], in: temporary.environment, resource: "script")
        let apply = Task { try await driver.apply(request) }
        try await Task.sleep(for: .milliseconds(50))
        close(writer)
        #expect(try await apply.value.values == ["ran": "yes"])
    }

    @Test(
        "apply returns the program's outputs and secret keys, given the resource on stdin in the environment directory")
    func applies() async throws {
        let temporary = environment([
            "apply.py": """
            #!/usr/bin/env python3
            import json, os, sys
            request = json.load(sys.stdin)
            json.dump({"outputs": {"url": "db://" + request["params"]["env"]["NAME"], "cwd": os.getcwd(),
                                   "op": request["operation"], "resource": request["resource"],
                                   "name": os.environ["NAME"], "token": "s3cret"},
                       "secret": ["token"]}, sys.stdout)
            """
        ])
        defer { temporary.remove() }
        let request = driverRequest(
            "exec", ["apply": ["./apply.py"], "env": ["NAME": "orders"]], in: temporary.environment, resource: "db")

        let outputs = try await driver.apply(request)

        #expect(
            outputs.values == [
                "url": "db://orders", "cwd": .string(temporary.environment), "op": "apply", "resource": "db",
                "name": "orders", "token": "s3cret",
            ])
        #expect(outputs.secretKeys == ["token"])
    }

    @Test("observe reports what the program found, given the applied outputs")
    func observes() async throws {
        let temporary = environment([
            "observe.sh": """
            #!/bin/sh
            if grep -q '"outputs":{"state":"gone"}' ; then
              echo '{"state":"missing","reason":"marker removed"}'
            else
              echo '{"state":"drifted","reason":"size changed"}'
            fi
            """
        ])
        defer { temporary.remove() }
        let request = driverRequest(
            "exec", ["apply": ["true"], "observe": ["./observe.sh"]], in: temporary.environment)

        let gone = try await driver.observe(request, applied: DriverOutputs(values: ["state": "gone"]))
        #expect(gone == .missing("marker removed"))
        #expect(try await driver.observe(request, applied: DriverOutputs()) == .drifted("size changed"))
        let without = driverRequest("exec", ["apply": ["true"]], in: temporary.environment)
        #expect(try await driver.observe(without, applied: DriverOutputs()) == .matches)
    }

    @Test("delete runs its program, which may print nothing; without one it does nothing")
    func deletes() async throws {
        let temporary = environment(["delete.sh": "#!/bin/sh\nrm -f marker\n"])
        defer { temporary.remove() }
        writeText("x", to: temporary.environment + "/marker")

        try await driver.delete(
            driverRequest("exec", ["apply": ["true"], "delete": ["./delete.sh"]], in: temporary.environment))
        #expect(fileStatus(temporary.environment + "/marker") == nil)
        try await driver.delete(driverRequest("exec", ["apply": ["true"]], in: temporary.environment))
    }

    @Test("a failing program's error names it, its status and the last lines of stderr, which also reach the sink")
    func failure() async throws {
        let temporary = environment([
            "fail.sh": "#!/bin/sh\necho 'connecting' >&2\necho 'permission denied for role' >&2\nexit 3\n"
        ])
        defer { temporary.remove() }
        let sink = CollectingSink()
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.apply(
                driverRequest("exec", ["apply": ["./fail.sh"]], in: temporary.environment, output: sink))
        }
        #expect(
            error?.message
                == "exec: apply program ./fail.sh exited with status 3: connecting | permission denied for role")
        #expect(error?.retryable == false)
        #expect(sink.lines.map(\.text) == ["connecting", "permission denied for role"])
        #expect(sink.lines.allSatisfy { $0.stream == .stderr && $0.resource == "r" && $0.environment == "e" })
    }

    @Test("exit status 75 is a retryable failure")
    func temporaryFailure() async {
        let temporary = environment(["busy.sh": "#!/bin/sh\necho 'lock held' >&2\nexit 75\n"])
        defer { temporary.remove() }
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.apply(driverRequest("exec", ["apply": ["./busy.sh"]], in: temporary.environment))
        }
        #expect(error?.retryable == true)
        #expect(error?.message.contains("status 75") == true)
    }

    @Test("a timeout kills the program's whole process group")
    func timeout() async throws {
        let temporary = environment([
            "slow.sh": """
            #!/bin/sh
            trap '' TERM
            sleep 600 &
            echo $! > child.pid
            wait
            """
        ])
        defer { temporary.remove() }
        let start = monotonic()
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.apply(
                driverRequest("exec", ["apply": ["./slow.sh"], "timeout": "300ms"], in: temporary.environment))
        }
        #expect(error?.message.hasPrefix("exec: apply program ./slow.sh timed out after 300ms and was killed") == true)
        // Far short of the program's 600 s, for a machine that runs every test at once and
        // has been seen to resume this test 30 s after the program was killed.
        #expect(monotonic() - start < 300, "the program sleeps 600 s unless killed")
        let child = try #require(
            Int32(readText(temporary.environment + "/child.pid")?.split(separator: "\n").first ?? ""))
        try await eventuallyGone(child)
    }

    @Test(
        "stdout that is not a JSON object is an error naming the program",
        arguments: [
            ("not json at all", "printed \"not json at all\" on stdout, not a JSON object"),
            ("{\"outputs\": {\"a\": ", "printed invalid JSON on stdout"),
            ("{\"outputz\": {}}", "printed an unknown field outputz"),
            ("{\"outputs\": {\"a\": 1}, \"secret\": [\"b\"]}", "secret names b, which is not an output"),
            ("", "printed nothing on stdout"),
        ])
    func invalidOutput(stdout: String, message: String) async throws {
        let temporary = environment([
            "apply.py":
                "#!/usr/bin/env python3\nimport sys\nsys.stdout.write(\(SpecValue.string(stdout).canonicalJSON))\n"
        ])
        defer { temporary.remove() }
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.apply(driverRequest("exec", ["apply": ["./apply.py"]], in: temporary.environment))
        }
        #expect(error?.message.hasPrefix("exec: apply program ./apply.py") == true)
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
    }

    @Test("programs are never run through a shell, and a missing one is named")
    func noShell() async throws {
        let temporary = environment([:])
        defer { temporary.remove() }
        let outputs = try await driver.apply(
            driverRequest(
                "exec",
                [
                    "apply": [
                        "python3", "-c", "import sys, json; json.dump({'outputs': {'arg': sys.argv[1]}}, sys.stdout)",
                        "$(id) `x` ; *",
                    ]
                ],
                in: temporary.environment))
        #expect(outputs.values == ["arg": "$(id) `x` ; *"])

        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.apply(
                driverRequest("exec", ["apply": ["no-such-program-here"]], in: temporary.environment))
        }
        #expect(error?.message.contains("no-such-program-here was not found") == true)
    }

    @Test("a program that reads stdin late, and writes more than a pipe holds, gets and gives everything")
    func largeInputAndOutput() async throws {
        let temporary = environment([
            "echo.py": """
            #!/usr/bin/env python3
            import json, sys, time
            time.sleep(0.2)
            request = json.load(sys.stdin)
            json.dump({"outputs": {"length": len(request["params"]["env"]["BIG"]), "pad": "y" * 300000}}, sys.stdout)
            """
        ])
        defer { temporary.remove() }
        let big = String(repeating: "x", count: 100_000)
        let outputs = try await driver.apply(
            driverRequest("exec", ["apply": ["./echo.py"], "env": ["BIG": .string(big)]], in: temporary.environment))
        #expect(outputs.values["length"] == 100_000)
        #expect(outputs.values["pad"]?.stringValue?.count == 300_000)
    }

    @Test("validation names each bad field")
    func validation() {
        let problems = driver.validate([
            "observe": "check.sh", "timeout": "soon", "env": ["A": ["x"]], "shell": true,
        ])
        #expect(
            problems.map(\.path) == ["params.shell", "params.apply", "params.observe", "params.timeout", "params.env"])
        #expect(driver.validate(["apply": []]).map(\.path) == ["params.apply"])
        #expect(driver.validate(["apply": ["./a", "${resources.p.outputs.port}"], "timeout": "${params.t}"]).isEmpty)
    }

    private func monotonic() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    /// Waits until `pid` no longer exists (a killed orphan is reaped by init).
    private func eventuallyGone(_ pid: pid_t) async throws {
        for _ in 0..<100 {
            if kill(pid, 0) != 0 && errno == ESRCH { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("process \(pid) still runs")
    }
}
