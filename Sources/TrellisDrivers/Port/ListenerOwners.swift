import Glibc

/// Who listens on a TCP port, from Linux's /proc: used to tell a recorded port that the
/// environment's own service now holds from one someone else took.
enum ListenerOwners {
    /// Whether a process whose working directory is `directory` or inside it listens on
    /// `port`. False when nobody does, or when /proc cannot say (not Linux, or processes
    /// of other users).
    static func listenerInside(_ directory: String, port: Int) -> Bool {
        let inodes = listeningInodes(port: port)
        guard !inodes.isEmpty else { return false }
        let sockets = Set(inodes.map { "socket:[\($0)]" })
        for pid in processIDs() {
            let descriptors = "/proc/\(pid)/fd"
            guard names(in: descriptors).contains(where: { sockets.contains(link("\(descriptors)/\($0)") ?? "") })
            else { continue }
            if let cwd = link("/proc/\(pid)/cwd"), cwd == directory || cwd.hasPrefix(directory + "/") {
                return true
            }
        }
        return false
    }

    /// The socket inodes listening on `port`, over IPv4 and IPv6.
    private static func listeningInodes(port: Int) -> [String] {
        var inodes: [String] = []
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = readSmallFile(table) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                guard fields.count > 9, fields[3] == "0A",
                    let portText = fields[1].split(separator: ":").last, Int(portText, radix: 16) == port
                else { continue }
                inodes.append(String(fields[9]))
            }
        }
        return inodes
    }

    private static func processIDs() -> [String] {
        names(in: "/proc").filter { $0.allSatisfy(\.isNumber) }
    }

    private static func names(in path: String) -> [String] {
        guard let stream = opendir(path) else { return [] }
        defer { closedir(stream) }
        var found: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { found.append(name) }
        }
        return found
    }

    private static func link(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func readSmallFile(_ path: String) -> String? {
        let raw = open(path, O_RDONLY | O_CLOEXEC)
        guard raw >= 0 else { return nil }
        guard case .success(let bytes?) = OwnedDescriptor(raw).readAll(limit: 16 << 20) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
