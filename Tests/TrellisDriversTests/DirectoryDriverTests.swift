import Glibc
import Testing
import TrellisDomain
import TrellisDrivers

@Suite("The directory driver")
struct DirectoryDriverTests {
    private let driver = DirectoryDriver()

    @Test("creates the directory with its mode, despite the umask, and outputs its absolute path")
    func applies() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let request = driverRequest("directory", ["path": "data/cache", "mode": "0775"], in: temporary.environment)

        let outputs = try await driver.apply(request)

        let path = temporary.environment + "/data/cache"
        #expect(outputs.values == ["path": .string(path)])
        let status = try #require(fileStatus(path))
        #expect(status.st_mode & S_IFMT == S_IFDIR)
        #expect(status.st_mode & 0o7777 == 0o775)
        #expect(try await driver.observe(request, applied: outputs) == .matches)
    }

    @Test("applying again changes nothing and keeps the contents")
    func idempotent() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let request = driverRequest("directory", ["path": "d"], in: temporary.environment)
        _ = try await driver.apply(request)
        writeText("kept", to: temporary.environment + "/d/inside")
        let before = try #require(fileStatus(temporary.environment + "/d"))

        _ = try await driver.apply(request)

        let after = try #require(fileStatus(temporary.environment + "/d"))
        #expect(after.st_ino == before.st_ino)
        #expect(after.st_ctim.tv_nsec == before.st_ctim.tv_nsec && after.st_ctim.tv_sec == before.st_ctim.tv_sec)
        #expect(readText(temporary.environment + "/d/inside") == "kept")
    }

    @Test("observe finds a changed mode, a replaced and a removed directory; apply repairs")
    func drift() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let request = driverRequest("directory", ["path": "d", "mode": 0o750], in: temporary.environment)
        let outputs = try await driver.apply(request)
        let path = temporary.environment + "/d"

        chmod(path, 0o700)
        #expect(try await driver.observe(request, applied: outputs) == .drifted("mode is 0700, expected 0750"))
        _ = try await driver.apply(request)
        #expect(try await driver.observe(request, applied: outputs) == .matches)

        rmdir(path)
        #expect(try await driver.observe(request, applied: outputs) == .missing("no directory at d"))
        _ = try await driver.apply(request)
        #expect(try await driver.observe(request, applied: outputs) == .matches)

        rmdir(path)
        writeText("not a directory", to: path)
        #expect(try await driver.observe(request, applied: outputs) == .drifted("d is no longer a directory"))
        await #expect(throws: DriverError.self) { _ = try await driver.apply(request) }
    }

    @Test("delete removes the tree without following symlinks, and deleting again succeeds")
    func deletes() async throws {
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        let outside = temporary.path + "/outside"
        mkdir(outside, 0o700)
        writeText("precious", to: outside + "/keep")
        let request = driverRequest("directory", ["path": "d"], in: temporary.environment)
        _ = try await driver.apply(request)
        mkdir(temporary.environment + "/d/sub", 0o500)
        writeText("x", to: temporary.environment + "/d/file")
        symlink(outside, temporary.environment + "/d/link-to-outside")
        symlink(outside + "/keep", temporary.environment + "/d/link-to-file")

        try await driver.delete(request)

        #expect(fileStatus(temporary.environment + "/d") == nil)
        #expect(readText(outside + "/keep") == "precious")
        try await driver.delete(request)
    }

    @Test("validation names each bad field, and escaping paths are refused")
    func validation() async {
        #expect(
            driver.validate(["mode": "rwx", "owner": "root"]).map(\.path) == [
                "params.owner", "params.path", "params.mode",
            ])
        #expect(
            driver.validate(["path": "../up"]).map(\.description) == [
                "params.path: \"../up\" leaves the environment directory"
            ])
        let temporary = TemporaryDirectory()
        defer { temporary.remove() }
        mkdir(temporary.environment, 0o700)
        symlink(temporary.path, temporary.environment + "/up")
        let error = await #expect(throws: DriverError.self) {
            _ = try await driver.apply(driverRequest("directory", ["path": "up/made"], in: temporary.environment))
        }
        #expect(error?.message.contains("passes through a symlink at up") == true)
        #expect(fileStatus(temporary.path + "/made") == nil)
        await #expect(throws: DriverError.self) {
            try await driver.delete(driverRequest("directory", ["path": "up"], in: temporary.environment))
        }
        #expect(fileStatus(temporary.environment) != nil)
    }
}
