import TrellisLogging

#if canImport(Glibc)
import Glibc
#endif

/// The file beside the database where ``StoreDurability/logged`` batches are written
/// before their writer goes on: one `pwrite` of a record instead of a transaction. The
/// database thread applies them to the database soon after, in the order they were
/// logged, and records in the same transaction the sequence number of the last one
/// applied (`transition_log.applied`).
///
/// A record is a 20-byte header (the magic `TRL1`, the payload's length, the batch's
/// sequence number, a CRC-32 of the payload and the sequence number), then the payload
/// (``TransitionCoding``). Once every logged batch is in the database, the next record
/// is written at the start of the file again, over the old ones: the file stays as small
/// as the batches waiting at any one time. Reading it back (``recover(_:applied:)``) takes
/// records from the start while they check out and their sequence numbers follow each
/// other, so records left behind by an earlier round are never taken for new ones: they
/// have smaller numbers than the record before them, or their bytes do not check out.
final class TransitionLog: @unchecked Sendable {
    // @unchecked Sendable: `offset`, `last` and `applied` are read and written only with
    // `mutex` held; the descriptor is closed once, in deinit.

    static let magic: UInt32 = 0x314C_5254  // "TRL1" in the file's little-endian order
    static let headerBytes = 20
    /// A larger length in a header is taken for damage: no batch of transitions is this big.
    static let maximumPayloadBytes = 64 << 20

    /// The file's path: the database's with `-transitions` appended.
    let path: String
    private let descriptor: Int32
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Where the next record goes.
    private var offset = 0
    /// The sequence number of the last batch logged.
    private var last: UInt64
    /// The sequence number of the last batch applied to the database.
    private var applied: UInt64

    static func path(forDatabase path: String) -> String { path + "-transitions" }

    /// Opens the log of the database at `databasePath` for appending after the batch
    /// numbered `applied`, emptying the file first: whatever it held must have been
    /// recovered already. With `preallocatedBytes` the file is then written out with zeros
    /// to that size and flushed, so that appends overwrite blocks it has rather than
    /// growing it.
    init(databasePath: String, applied: UInt64, preallocatedBytes: Int?) throws(StoreError) {
        path = Self.path(forDatabase: databasePath)
        let descriptor = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw Self.failure("open", path) }
        self.descriptor = descriptor
        last = applied
        self.applied = applied
        mutex = .allocate(capacity: 1)
        precondition(pthread_mutex_init(mutex, nil) == 0, "store: pthread_mutex_init failed")
        guard ftruncate(descriptor, 0) == 0 else { throw Self.failure("ftruncate", path) }
        if let preallocatedBytes, preallocatedBytes > 0 {
            // Flushed there, as the write-ahead log's zeros are.
            _ = try extendWithZeros(path, to: preallocatedBytes)
        } else {
            guard fsync(descriptor) == 0 else { throw Self.failure("fsync", path) }
        }
    }

    deinit {
        close(descriptor)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Logs `mutations` as the next batch, then calls `submit` with its sequence number
    /// while still holding the log, so that batches reach the database thread in the
    /// order of their numbers. When `submit` refuses (the store is closing), the record is
    /// undone and the write fails with `refusal`.
    func append(
        _ mutations: [StoreMutation], refusal: StoreError, submit: (UInt64) -> Bool
    ) throws(StoreError) {
        let payload = TransitionCoding.encode(mutations)
        guard payload.count <= Self.maximumPayloadBytes else {
            throw StoreError(
                code: .constraint, message: "store: a logged batch of \(payload.count) bytes is too large")
        }
        let payloadCRC = CRC32.update(0, payload)
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        let sequence = last + 1
        var record = ByteWriter()
        record.bytes.reserveCapacity(Self.headerBytes + payload.count)
        record.uint32(Self.magic)
        record.uint32(UInt32(payload.count))
        record.uint64(sequence)
        record.uint32(Self.checksum(payloadCRC, sequence))
        record.bytes.append(contentsOf: payload)
        try Self.writeAll(descriptor, record.bytes, record.bytes.count, at: offset, path: path)
        guard submit(sequence) else {
            // Never applied, so never to be recovered: its header no longer checks out.
            let zeros = [UInt8](repeating: 0, count: Self.headerBytes)
            zeros.withUnsafeBytes { _ = pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
            throw refusal
        }
        last = sequence
        offset += record.bytes.count
    }

    /// Notes that the batches up to `sequence` are in the database; once that is every
    /// batch logged, the next record goes at the start of the file.
    func markApplied(through sequence: UInt64) {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        applied = max(applied, sequence)
        if applied == last { offset = 0 }
    }

    /// How far the file is written now: for tests.
    var writtenBytes: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return offset
    }

    /// The batches the file at `path` holds after the one numbered `applied`, in order,
    /// with their sequence numbers: the records from the start of the file that check out,
    /// skipping those up to `applied`, as long as each number follows the one before.
    /// A missing file holds none. `damaged` is the reason reading stopped before the end
    /// of what looked like records, if it did.
    static func recover(
        _ path: String, applied: UInt64
    ) throws(StoreError) -> (batches: [(sequence: UInt64, mutations: [StoreMutation])], damaged: String?) {
        guard let bytes = try readFile(path) else { return ([], nil) }
        var batches: [(sequence: UInt64, mutations: [StoreMutation])] = []
        var position = 0
        var previous: UInt64?
        while bytes.count - position >= headerBytes {
            var header = ByteReader(bytes: bytes[position..<position + headerBytes])
            let magic = header.uint32()!
            let length = Int(header.uint32()!)
            let sequence = header.uint64()!
            let crc = header.uint32()!
            // Zeros (a preallocated or emptied file) end the log without being damage.
            if magic == 0 && length == 0 && sequence == 0 { break }
            guard magic == Self.magic, length <= maximumPayloadBytes,
                bytes.count - position - headerBytes >= length
            else { return (batches, "a record at byte \(position) has a damaged header") }
            let payload = bytes[position + headerBytes..<position + headerBytes + length]
            guard checksum(CRC32.update(0, payload), sequence) == crc else {
                return (batches, "the record at byte \(position) does not match its checksum")
            }
            // Records left from before the file started over have smaller numbers.
            if let previous, sequence != previous + 1 { break }
            previous = sequence
            position += headerBytes + length
            guard sequence > applied else { continue }
            guard sequence == (batches.last?.sequence ?? applied) + 1 else {
                return (batches, "batch \(sequence) follows batch \(applied), the last one applied, with a gap")
            }
            guard let mutations = TransitionCoding.decode(payload) else {
                return (batches, "batch \(sequence) does not decode")
            }
            batches.append((sequence, mutations))
        }
        return (batches, nil)
    }

    private static func checksum(_ payloadCRC: UInt32, _ sequence: UInt64) -> UInt32 {
        withUnsafeBytes(of: sequence.littleEndian) { CRC32.update(payloadCRC, $0) }
    }

    private static func readFile(_ path: String) throws(StoreError) -> [UInt8]? {
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { return nil }
            throw failure("open", path)
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("read", path)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }

    /// Writes the first `count` of `bytes` at `offset`, however many calls it takes.
    private static func writeAll(
        _ descriptor: Int32, _ bytes: [UInt8], _ count: Int, at offset: Int, path: String
    ) throws(StoreError) {
        let failed = bytes.withUnsafeBytes { buffer -> Bool in
            var done = 0
            while done < count {
                let written = pwrite(descriptor, buffer.baseAddress! + done, count - done, off_t(offset + done))
                if written < 0 {
                    if errno == EINTR { continue }
                    return true
                }
                done += written
            }
            return false
        }
        if failed { throw failure("pwrite", path) }
    }

    private static func failure(_ call: String, _ path: String) -> StoreError {
        let code = errno
        return StoreError(
            code: .io, message: "store: \(call) \(path): \(String(cString: strerror(code))) (errno \(code))")
    }
}

extension SQLiteConnection {
    /// Applies batches recovered from the transition log in one transaction that also
    /// records `last` as applied. A batch the database refuses (its environment is gone)
    /// is skipped with a warning: it is what the cascade of that removal would have undone.
    func replay(
        _ batches: [(sequence: UInt64, mutations: [StoreMutation])], through last: UInt64, logger: Logger
    ) throws(StoreError) {
        let operation = "replay the transition log"
        do throws(StoreError) {
            try run("BEGIN IMMEDIATE", operation: operation)
            for batch in batches {
                try run("SAVEPOINT logged", operation: operation)
                do throws(StoreError) {
                    for mutation in batch.mutations { _ = try apply(mutation) }
                    try run("RELEASE logged", operation: operation)
                } catch {
                    guard isInTransaction else { throw error }
                    try execute("ROLLBACK TO logged", operation: operation)
                    try execute("RELEASE logged", operation: operation)
                    logger.warning(
                        "store dropped a logged batch the database refused",
                        ["store.log_sequence": String(batch.sequence), "error": error.message])
                }
            }
            try run(
                "UPDATE transition_log SET applied = ? WHERE id = 1", operation: operation, [.integer(Int64(last))])
            try run("COMMIT", operation: operation)
        } catch {
            if isInTransaction { try? execute("ROLLBACK", operation: operation) }
            throw error
        }
    }
}
