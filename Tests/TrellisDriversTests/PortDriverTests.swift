import Glibc
import Testing
import TrellisDomain
import TrellisDrivers

@Suite("The port driver")
struct PortDriverTests {
    private let driver = PortDriver()

    private func port(_ outputs: DriverOutputs) throws -> Int {
        try #require(outputs.values["port"]?.intValue)
    }

    @Test("allocates a free port in the range, the same one on every apply and from a new driver")
    func stable() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let request = driverRequest("port", ["range": "21000-21999"], in: temporary.environment, resource: "api-port")

        let first = try port(try await driver.apply(request))
        #expect((21000...21999).contains(first))
        #expect(try port(try await driver.apply(request)) == first)
        #expect(try port(try await PortDriver().apply(request)) == first)
        #expect(fileStatus(temporary.environment + "/.trellis-ports/api-port") != nil)

        let other = driverRequest("port", ["range": "21000-21999"], in: temporary.environment, resource: "db-port")
        #expect(try port(try await driver.apply(other)) != first)
    }

    @Test("a recorded port someone else took is replaced by a new one")
    func taken() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let request = driverRequest("port", ["range": "22000-22099"], in: temporary.environment)
        let first = try port(try await driver.apply(request))
        let listener = try listen(on: first)
        defer { close(listener) }

        let second = try port(try await driver.apply(request))

        #expect(second != first)
        #expect(try port(try await driver.apply(request)) == second)
    }

    @Test("a recorded port held by a process running in the environment directory is kept")
    func heldByEnvironment() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let request = driverRequest("port", ["range": "23000-23099"], in: temporary.environment)
        let first = try port(try await driver.apply(request))
        writeScript(
            """
            #!/usr/bin/env python3
            import socket, sys, time
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", int(sys.argv[1])))
            s.listen()
            open("ready", "w").close()
            time.sleep(30)
            """, to: temporary.environment + "/serve.py")
        let service = try spawnIn(temporary.environment, ["./serve.py", String(first)])
        defer {
            kill(service, SIGKILL)
            var status: Int32 = 0
            waitpid(service, &status, 0)
        }
        for _ in 0..<200 where fileStatus(temporary.environment + "/ready") == nil {
            try await Task.sleep(for: .milliseconds(10))
        }

        #expect(try port(try await driver.apply(request)) == first)
    }

    @Test("observe matches while recorded; delete forgets, and deleting again succeeds")
    func observeAndDelete() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let request = driverRequest("port", [:], in: temporary.environment)
        let outputs = try await driver.apply(request)
        #expect(PortSpecDefaults.range.contains(try port(outputs)))
        #expect(try await driver.observe(request, applied: outputs) == .matches)

        unlink(temporary.environment + "/.trellis-ports/r")
        #expect(try await driver.observe(request, applied: outputs) == .missing("no port is recorded for r"))
        let repaired = try await driver.apply(request)
        #expect(try await driver.observe(request, applied: repaired) == .matches)

        try await driver.delete(request)
        #expect(fileStatus(temporary.environment + "/.trellis-ports/r") == nil)
        try await driver.delete(request)
        #expect(try await driver.observe(request, applied: repaired) == .missing("no port is recorded for r"))
    }

    @Test("a range with no free port is a retryable error")
    func exhausted() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let listener = try listen(on: 0)
        defer { close(listener) }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        let busy = Int(UInt16(bigEndian: address.sin_port))
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.apply(
                driverRequest("port", ["range": .string("\(busy)-\(busy)")], in: temporary.environment))
        }
        #expect(error?.retryable == true)
    }

    @Test("validation names each bad field")
    func validation() {
        #expect(
            driver.validate(["host": "localhost", "range": "30000-20000", "protocol": "udp"]).map(\.path) == [
                "params.protocol", "params.host", "params.range",
            ])
        #expect(driver.validate(["host": "::1", "range": "1024-2048"]).isEmpty)
        #expect(driver.validate(["range": 80]).map(\.path) == ["params.range"])
    }

    /// A socket listening on 127.0.0.1:`port` (0: any), owned by the test process.
    private func listen(on port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(bound == 0 && Glibc.listen(descriptor, 8) == 0)
        return descriptor
    }

    /// Starts `argv` with `directory` as its working directory, through `/bin/sh -c 'cd … &&
    /// exec "$@"'` (test setup only).
    private func spawnIn(_ directory: String, _ argv: [String]) throws -> pid_t {
        let full = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory] + argv
        var pid: pid_t = 0
        let arguments = full.map { strdup($0) } + [nil]
        defer { arguments.forEach { free($0) } }
        try #require(posix_spawn(&pid, "/bin/sh", nil, nil, arguments, environ) == 0)
        return pid
    }
}

/// The driver's documented default range, restated for the tests.
private enum PortSpecDefaults {
    static let range = 20000...32767
}
