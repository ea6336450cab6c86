import Glibc

/// Passwords the driver generates for the roles it creates.
enum PostgresPassword {
    static let length = 24
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// 24 letters and digits (about 143 bits) from the kernel's random source,
    /// `getrandom`. Letters and digits need no escaping in a URL, a shell or a
    /// connection string.
    static func generate() throws(DriverError) -> String {
        // Bytes at or above the largest multiple of the alphabet's size are dropped, so
        // that every character is equally likely.
        let limit = UInt8(256 / alphabet.count * alphabet.count)
        var characters: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while characters.count < length {
            let count = buffer.withUnsafeMutableBytes { Self.getrandom($0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw DriverError(
                    "\(PostgresDatabaseSpec.driver): cannot generate a password: "
                        + systemCallFailure("getrandom", errno: errno))
            }
            for byte in buffer[..<count] where byte < limit && characters.count < length {
                characters.append(alphabet[Int(byte) % alphabet.count])
            }
        }
        return String(decoding: characters, as: UTF8.self)
    }

    private typealias GetRandom = @convention(c) (UnsafeMutableRawPointer, Int, UInt32) -> Int

    /// glibc's `getrandom` (2.25 and later), which the Glibc module does not import:
    /// found with `dlsym` once, as `GNUExtensions` finds its functions.
    private static let getrandomFunction: GetRandom? = {
        guard let address = dlsym(dlopen(nil, RTLD_NOW), "getrandom") else { return nil }
        return unsafeBitCast(address, to: GetRandom.self)
    }()

    private static func getrandom(_ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
        guard let getrandomFunction else {
            errno = ENOSYS
            return -1
        }
        return getrandomFunction(buffer, count, 0)
    }
}
