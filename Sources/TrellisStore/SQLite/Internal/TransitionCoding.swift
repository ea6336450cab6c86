/// The bytes of a logged batch in the transition log, and back.
///
/// Only the mutations a batch may be logged with have an encoding (``isLoggable``): the
/// resource transitions the engine writes as it runs. Integers are little-endian, strings
/// are a 32-bit byte count and UTF-8, optional values a presence byte first.
enum TransitionCoding {
    /// The payload's format; a record of another version does not decode.
    static let version: UInt8 = 1

    private enum Tag: UInt8 {
        case upsertResource = 1
        case finishResource = 2
        case setResourceDrift = 3
    }

    /// Whether `mutation` can go into the transition log.
    static func isLoggable(_ mutation: StoreMutation) -> Bool {
        switch mutation {
        case .upsertResource, .finishResource, .setResourceDrift: true
        default: false
        }
    }

    /// The payload of `mutations`, all of which must be loggable.
    static func encode(_ mutations: [StoreMutation]) -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes.reserveCapacity(64 + 320 * mutations.count)
        writer.byte(version)
        writer.uint32(UInt32(mutations.count))
        for mutation in mutations {
            switch mutation {
            case .upsertResource(let record):
                writer.byte(Tag.upsertResource.rawValue)
                writer.record(record)
            case .finishResource(let record):
                writer.byte(Tag.finishResource.rawValue)
                writer.record(record)
            case .setResourceDrift(let environment, let name, let drift):
                writer.byte(Tag.setResourceDrift.rawValue)
                writer.string(environment)
                writer.string(name)
                writer.string(drift)
            default:
                preconditionFailure("store: \(mutation) cannot be logged")
            }
        }
        return writer.bytes
    }

    /// The mutations of a payload; nil when the bytes are not a payload of this version.
    static func decode(_ payload: ArraySlice<UInt8>) -> [StoreMutation]? {
        var reader = ByteReader(bytes: payload)
        guard reader.byte() == version, let count = reader.uint32(), Int(count) <= payload.count else { return nil }
        var mutations: [StoreMutation] = []
        mutations.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let raw = reader.byte(), let tag = Tag(rawValue: raw) else { return nil }
            switch tag {
            case .upsertResource:
                guard let record = reader.record() else { return nil }
                mutations.append(.upsertResource(record))
            case .finishResource:
                guard let record = reader.record() else { return nil }
                mutations.append(.finishResource(record))
            case .setResourceDrift:
                guard let environment = reader.string(), let name = reader.string(), let drift = reader.string()
                else { return nil }
                mutations.append(.setResourceDrift(environment: environment, name: name, drift: drift))
            }
        }
        return reader.isAtEnd ? mutations : nil
    }
}

/// Appends little-endian integers and length-prefixed strings.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func byte(_ value: UInt8) { bytes.append(value) }

    mutating func uint32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func uint64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func int64(_ value: Int64) { uint64(UInt64(bitPattern: value)) }

    mutating func optionalInt64(_ value: Int64?) {
        guard let value else { return byte(0) }
        byte(1)
        int64(value)
    }

    mutating func string(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            uint32(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func optionalString(_ value: String?) {
        guard let value else { return byte(0) }
        byte(1)
        string(value)
    }

    mutating func record(_ record: ResourceRecord) {
        string(record.environment)
        string(record.name)
        string(record.type)
        string(record.driver)
        string(record.params)
        string(record.dependencies)
        string(record.phase)
        string(record.outputs)
        uint32(UInt32(record.secretOutputKeys.count))
        for key in record.secretOutputKeys { string(key) }
        int64(record.attempts)
        optionalInt64(record.startedAt)
        optionalInt64(record.finishedAt)
        optionalString(record.lastError)
        optionalString(record.agent)
        string(record.health)
        string(record.healthMessage)
        string(record.drift)
    }
}

/// Reads what ``ByteWriter`` wrote; every read returns nil past the end or on bytes that
/// are not what it reads.
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    private var position: Int

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    var isAtEnd: Bool { position == bytes.endIndex }

    mutating func byte() -> UInt8? {
        guard position < bytes.endIndex else { return nil }
        defer { position += 1 }
        return bytes[position]
    }

    /// An unsigned integer of `Value`'s width, little-endian.
    mutating func integer<Value: FixedWidthInteger & UnsignedInteger>(_: Value.Type) -> Value? {
        let width = MemoryLayout<Value>.size
        guard bytes.endIndex - position >= width else { return nil }
        var value: Value = 0
        for offset in (0..<width).reversed() { value = value << 8 | Value(bytes[position + offset]) }
        position += width
        return value
    }

    mutating func uint32() -> UInt32? { integer(UInt32.self) }

    mutating func uint64() -> UInt64? { integer(UInt64.self) }

    mutating func int64() -> Int64? { uint64().map { Int64(bitPattern: $0) } }

    /// A presence byte, then the value `read` reads when it is 1: nil for bytes that are
    /// neither, `.some(nil)` for an absent value.
    mutating func optional<Value>(_ read: (inout ByteReader) -> Value?) -> Value?? {
        switch byte() {
        case 0: return .some(nil)
        case 1: return read(&self).map { .some($0) }
        default: return nil
        }
    }

    mutating func string() -> String? {
        guard let count = uint32(), bytes.endIndex - position >= Int(count) else { return nil }
        let utf8 = bytes[position..<position + Int(count)]
        position += Int(count)
        return String(validating: utf8, as: UTF8.self)
    }

    mutating func record() -> ResourceRecord? {
        guard let environment = string(), let name = string(), let type = string(), let driver = string(),
            let params = string(), let dependencies = string(), let phase = string(), let outputs = string(),
            let keyCount = uint32(), Int(keyCount) <= bytes.endIndex - position
        else { return nil }
        var secretOutputKeys: [String] = []
        for _ in 0..<keyCount {
            guard let key = string() else { return nil }
            secretOutputKeys.append(key)
        }
        guard let attempts = int64(), let startedAt = optional({ $0.int64() }),
            let finishedAt = optional({ $0.int64() }), let lastError = optional({ $0.string() }),
            let agent = optional({ $0.string() }), let health = string(),
            let healthMessage = string(), let drift = string()
        else { return nil }
        return ResourceRecord(
            environment: environment, name: name, type: type, driver: driver, params: params,
            dependencies: dependencies, phase: phase, outputs: outputs, secretOutputKeys: secretOutputKeys,
            attempts: attempts, startedAt: startedAt, finishedAt: finishedAt, lastError: lastError, agent: agent,
            health: health, healthMessage: healthMessage, drift: drift)
    }
}

/// CRC-32 (the polynomial of zlib and Ethernet), to tell a whole record from a torn one.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    /// `crc` (from an earlier call, or 0 to start) continued over `bytes`.
    static func update(_ crc: UInt32, _ bytes: some Sequence<UInt8>) -> UInt32 {
        var value = ~crc
        table.withUnsafeBufferPointer { table in
            for byte in bytes { value = table[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8) }
        }
        return ~value
    }
}
