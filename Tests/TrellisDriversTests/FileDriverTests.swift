import Glibc
import Testing
import TrellisDomain
import TrellisDrivers

@Suite("The file driver")
struct FileDriverTests {
    private let driver = FileDriver()

    @Test("writes the file with its mode, and outputs its absolute path and hash")
    func applies() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let request = driverRequest(
            "file", ["path": "conf/app.ini", "content": "abc", "mode": "0640"], in: temporary.environment)

        let outputs = try await driver.apply(request)

        let path = temporary.environment + "/conf/app.ini"
        #expect(outputs.values["path"] == .string(path))
        #expect(outputs.values["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(readText(path) == "abc")
        #expect(try #require(fileStatus(path)).st_mode & 0o7777 == 0o640)
        #expect(try #require(fileStatus(temporary.environment)).st_mode & 0o7777 == 0o700)
        #expect(try await driver.observe(request, applied: outputs) == .matches)
    }

    @Test("applying the same params again leaves the file untouched")
    func idempotent() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let request = driverRequest("file", ["path": "a.txt", "content": "hello\n"], in: temporary.environment)
        _ = try await driver.apply(request)
        let path = temporary.environment + "/a.txt"
        let before = try #require(fileStatus(path))
        usleep(20_000)

        _ = try await driver.apply(request)

        let after = try #require(fileStatus(path))
        #expect(after.st_ino == before.st_ino)
        #expect(after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec)
        #expect(after.st_ctim.tv_nsec == before.st_ctim.tv_nsec)
        #expect(after.st_mode & 0o7777 == 0o644)
    }

    @Test("observe finds edited content, a changed mode and a deleted file; apply repairs each")
    func drift() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let request = driverRequest("file", ["path": "a.txt", "content": "v1"], in: temporary.environment)
        let outputs = try await driver.apply(request)
        let path = temporary.environment + "/a.txt"

        writeText("v2", to: path)
        #expect(try await driver.observe(request, applied: outputs) == .drifted("content changed"))
        _ = try await driver.apply(request)
        #expect(readText(path) == "v1")
        #expect(try await driver.observe(request, applied: outputs) == .matches)

        chmod(path, 0o600)
        #expect(try await driver.observe(request, applied: outputs) == .drifted("mode is 0600, expected 0644"))
        let inode = try #require(fileStatus(path)).st_ino
        _ = try await driver.apply(request)
        #expect(try #require(fileStatus(path)).st_ino == inode)
        #expect(try await driver.observe(request, applied: outputs) == .matches)

        unlink(path)
        #expect(try await driver.observe(request, applied: outputs) == .missing("no file at a.txt"))
        _ = try await driver.apply(request)
        #expect(readText(path) == "v1")
    }

    @Test("changed content is replaced atomically by a new file, leaving no temporary file")
    func replaces() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        _ = try await driver.apply(driverRequest("file", ["path": "a", "content": "one"], in: temporary.environment))
        let inode = try #require(fileStatus(temporary.environment + "/a")).st_ino

        _ = try await driver.apply(driverRequest("file", ["path": "a", "content": "two"], in: temporary.environment))

        #expect(readText(temporary.environment + "/a") == "two")
        #expect(try #require(fileStatus(temporary.environment + "/a")).st_ino != inode)
        #expect(fileStatus(temporary.environment + "/.a.trellis-tmp") == nil)
    }

    @Test("a temporary file a crash left behind is replaced, not in the way")
    func leftoverTemporary() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        mkdir(temporary.environment, 0o700)
        writeText("partial", to: temporary.environment + "/.a.trellis-tmp")

        _ = try await driver.apply(driverRequest("file", ["path": "a", "content": "whole"], in: temporary.environment))

        #expect(readText(temporary.environment + "/a") == "whole")
        #expect(fileStatus(temporary.environment + "/.a.trellis-tmp") == nil)
    }

    @Test("delete removes the file, and deleting it again succeeds")
    func deletes() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let request = driverRequest("file", ["path": "d/a.txt", "content": "x"], in: temporary.environment)
        let outputs = try await driver.apply(request)

        try await driver.delete(request)
        #expect(fileStatus(temporary.environment + "/d/a.txt") == nil)
        try await driver.delete(request)
        #expect(try await driver.observe(request, applied: outputs) == .missing("no file at d/a.txt"))

        let elsewhere = driverRequest("file", ["path": "a", "content": "x"], in: temporary.path + "/never-made")
        try await driver.delete(elsewhere)
        #expect(fileStatus(temporary.path + "/never-made") == nil)
    }

    @Test("validation names each bad field")
    func validation() {
        let problems = driver.validate(["path": 7, "mode": "0999", "colour": "red"])
        #expect(problems.map(\.path).sorted() == ["params.colour", "params.content", "params.mode", "params.path"])
        #expect(driver.validate(["path": "a", "content": "x", "mode": 0o600]).isEmpty)
        #expect(driver.validate(["path": "a", "content": "x", "mode": 644]).map(\.path) == ["params.mode"])
        #expect(
            driver.validate(["path": "${resources.d.outputs.path}", "content": "${resources.p.outputs.port}"]).isEmpty)
    }

    @Test(
        "paths that leave the environment directory are refused",
        arguments: [
            ("../x", "params.path: \"../x\" leaves the environment directory"),
            ("a/../../x", "params.path: \"a/../../x\" leaves the environment directory"),
            (
                "/etc/passwd",
                "params.path: \"/etc/passwd\" is absolute; paths are relative to the environment directory"
            ),
            ("", "params.path: must not be empty"),
            ("./", "params.path: \"./\" names the environment directory itself"),
        ])
    func escapes(path: String, message: String) async throws {
        #expect(driver.validate(["path": .string(path), "content": "x"]).map(\.description) == [message])
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.apply(
                driverRequest("file", ["path": .string(path), "content": "x"], in: temporary.environment))
        }
        #expect(error?.message == "file: invalid params: \(message)")
    }

    @Test("a symlink on the way is refused, not followed")
    func symlinks() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let outside = temporary.path + "/outside"
        mkdir(outside, 0o700)
        mkdir(temporary.environment, 0o700)
        symlink(outside, temporary.environment + "/link")
        symlink(outside + "/target", temporary.environment + "/file-link")

        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.apply(
                driverRequest("file", ["path": "link/a", "content": "x"], in: temporary.environment))
        }
        #expect(error?.message.contains("params.path: \"link/a\" passes through a symlink at link") == true)
        #expect(fileStatus(outside + "/a") == nil)

        await #expect(throws: DriverError.self) {
            _ = try await driver.apply(
                driverRequest("file", ["path": "file-link", "content": "x"], in: temporary.environment))
        }
        #expect(fileStatus(outside + "/target") == nil)
        await #expect(throws: DriverError.self) {
            try await driver.delete(
                driverRequest("file", ["path": "link/a", "content": "x"], in: temporary.environment))
        }
    }

    @Test("without an environment directory the driver refuses to run")
    func needsEnvironmentDirectory() async {
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.apply(driverRequest("file", ["path": "a", "content": "x"], in: nil))
        }
        #expect(error?.message.contains("no environment directory") == true)
    }
}
