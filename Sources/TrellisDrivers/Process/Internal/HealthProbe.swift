#if canImport(Glibc)
import Glibc
#endif

/// One health probe, run to completion within its timeout on the calling thread (the
/// supervisor's probe thread, never the cooperative pool).
struct HealthProbe {
    var check: ProcessSpec.HealthCheck
    var timeout: Duration
    /// For exec checks: where and with what environment the check runs.
    var directory: String
    var environment: [String]

    /// Nil when the probe passed, otherwise why it failed.
    func run() -> String? {
        let deadline = ContinuousClock.now + timeout
        switch check {
        case .tcp(let port):
            switch connect(port: port, label: "tcp 127.0.0.1:\(port)", deadline: deadline) {
            case .connected(let socket):
                close(socket)
                return nil
            case .failed(let reason):
                return reason
            }
        case .http(let port, let path, let status):
            return http(port: port, path: path, expecting: status, deadline: deadline)
        case .exec(let argv):
            return exec(argv, deadline: deadline)
        }
    }

    private enum Connection {
        case connected(Int32)
        case failed(String)
    }

    /// A connected socket to 127.0.0.1:`port`, or why there is none.
    private func connect(port: Int, label: String, deadline: ContinuousClock.Instant) -> Connection {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { return .failed("\(label): \(ProcessSystemError("socket"))") }
        let flags = fcntl(socket, F_GETFL)
        _ = fcntl(socket, F_SETFL, flags | O_NONBLOCK)

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port)).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 && errno != EINPROGRESS {
            let reason = "\(label): \(ProcessSystemError("connect"))"
            close(socket)
            return .failed(reason)
        }
        if result != 0 {
            guard wait(for: socket, events: Int16(POLLOUT), until: deadline) else {
                close(socket)
                return .failed("\(label): connect timed out after \(timeout)")
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(socket, SOL_SOCKET, SO_ERROR, &error, &length)
            if error != 0 {
                close(socket)
                return .failed(
                    "\(label): \(ProcessSystemError("connect", errorNumber: error))")
            }
        }
        return .connected(socket)
    }

    /// GET `path` over HTTP/1.1, reading only as far as the status line.
    private func http(
        port: Int, path: String, expecting expected: Int, deadline: ContinuousClock.Instant
    )
        -> String?
    {
        let target = "http 127.0.0.1:\(port)\(path)"
        let socket: Int32
        switch connect(port: port, label: target, deadline: deadline) {
        case .connected(let connected): socket = connected
        case .failed(let reason): return reason
        }
        defer { close(socket) }

        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 {
                sent += count
            } else if count < 0 && (errno == EAGAIN || errno == EINTR) {
                guard wait(for: socket, events: Int16(POLLOUT), until: deadline) else {
                    return "\(target): timed out sending the request"
                }
            } else {
                return "\(target): \(ProcessSystemError("send"))"
            }
        }

        // A status line is short; a server that sends more without a line end is broken.
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1024)
        while !received.contains(UInt8(ascii: "\n")) {
            guard received.count < 8192 else { return "\(target): no status line in the first 8 KiB" }
            let count = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += buffer[..<count]
            } else if count == 0 {
                return "\(target): connection closed before a status line"
            } else if errno == EAGAIN || errno == EINTR {
                guard wait(for: socket, events: Int16(POLLIN), until: deadline) else {
                    return "\(target): no response within \(timeout)"
                }
            } else {
                return "\(target): \(ProcessSystemError("recv"))"
            }
        }
        let line = String(
            decoding: received.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") },
            as: UTF8.self)
        let parts = line.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
            return "\(target): not an HTTP status line: \(line.prefix(80))"
        }
        return status == expected ? nil : "\(target) answered \(status), expected \(expected)"
    }

    /// Runs `argv` with output discarded; passes on exit status 0. A check still running
    /// at the deadline is killed with its process group.
    private func exec(_ argv: [String], deadline: ContinuousClock.Instant) -> String? {
        let name = argv.first ?? ""
        let spawned: Spawner.Spawned
        do {
            spawned = try Spawner.spawn(
                argv: argv, environment: environment, directory: directory, limits: ProcessSpec.Limits(),
                captureOutput: false)
        } catch {
            return "exec \(name): \(error.message)"
        }
        var status: Int32 = 0
        while true {
            let result = waitpid(spawned.pid, &status, WNOHANG)
            if result == spawned.pid { break }
            if result < 0 && errno != EINTR { return "exec \(name): \(ProcessSystemError("waitpid"))" }
            if ContinuousClock.now >= deadline {
                kill(-spawned.pid, SIGKILL)
                while waitpid(spawned.pid, &status, 0) < 0 && errno == EINTR {}
                return "exec \(name): still running after \(timeout)"
            }
            SystemCalls.sleep(.milliseconds(5))
        }
        let exit = ExitStatus(waitStatus: status)
        return exit == .exited(0) ? nil : "exec \(name) \(exit)"
    }

    /// Waits until `socket` is ready for `events`; false at the deadline.
    private func wait(for socket: Int32, events: Int16, until deadline: ContinuousClock.Instant) -> Bool {
        while true {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { return false }
            var entry = pollfd(fd: socket, events: events, revents: 0)
            let result = poll(&entry, 1, SystemCalls.pollMilliseconds(remaining))
            if result > 0 { return true }
            if result < 0 && errno != EINTR { return false }
        }
    }
}
