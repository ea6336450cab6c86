import CProtobufC
import Glibc

/// Memory for the temporary protobuf-c structs of one encode call.
///
/// Generated `encode(appendingTo:)` builds a protobuf-c copy of the message whose
/// structs, arrays and strings all come from one arena, packs it, and drops the arena.
/// The first kilobyte lives on the stack; larger messages spill into heap chunks that
/// are freed when ``withArena(_:)`` returns. Nothing allocated here is ever passed to
/// protobuf-c's `free_unpacked`.
@_spi(TrellisGenerated)
public struct WireArena: ~Copyable {
    @usableFromInline var cursor: UnsafeMutableRawPointer
    @usableFromInline var end: UnsafeMutableRawPointer
    /// Heap chunks, newest first; each starts with the address of the next.
    @usableFromInline var chunks: UnsafeMutableRawPointer?

    /// Bytes of stack the arena starts with: enough for every frame but bulky messages.
    static let stackByteCount = 1024
    static let chunkHeader = 16
    static let minimumChunkByteCount = 8192

    init(_ buffer: UnsafeMutableRawBufferPointer) {
        cursor = buffer.baseAddress!
        end = buffer.baseAddress! + buffer.count
        chunks = nil
    }

    /// Runs `body` with a fresh arena and frees everything it allocated afterwards.
    public static func withArena(
        _ body: (inout WireArena) throws(WireEncodingError) -> Void
    ) throws(WireEncodingError) {
        try withUnsafeTemporaryAllocation(byteCount: stackByteCount, alignment: 16) {
            (buffer) throws(WireEncodingError) in
            var arena = WireArena(buffer)
            defer { arena.releaseChunks() }
            try body(&arena)
        }
    }

    /// Uninitialized memory for `count` values of `type`; valid until the arena ends.
    @inlinable
    public mutating func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        allocateRaw(byteCount: MemoryLayout<T>.stride * count, alignment: MemoryLayout<T>.alignment)
            .bindMemory(to: T.self, capacity: count)
    }

    @inlinable
    mutating func allocateRaw(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer {
        let start = cursor.alignedUp(toMultipleOf: alignment)
        if end - start >= byteCount {
            cursor = start + byteCount
            return start
        }
        return allocateChunk(byteCount: byteCount, alignment: alignment)
    }

    @usableFromInline
    mutating func allocateChunk(byteCount: Int, alignment: Int) -> UnsafeMutableRawPointer {
        let size = max(Self.minimumChunkByteCount, Self.chunkHeader + alignment + byteCount)
        let chunk = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        chunk.storeBytes(of: chunks, as: UnsafeMutableRawPointer?.self)
        chunks = chunk
        let start = (chunk + Self.chunkHeader).alignedUp(toMultipleOf: alignment)
        cursor = start + byteCount
        end = chunk + size
        return start
    }

    mutating func releaseChunks() {
        while let chunk = chunks {
            chunks = chunk.load(as: UnsafeMutableRawPointer?.self)
            chunk.deallocate()
        }
    }

    /// A NUL-terminated copy of `string` for a protobuf-c `char *` field.
    ///
    /// - Throws: ``WireEncodingError`` when the string holds a NUL character, which a
    ///   C string cannot carry.
    public mutating func copyString(
        _ string: String,
        messageType: String,
        field: String
    ) throws(WireEncodingError) -> UnsafeMutablePointer<CChar> {
        var string = string
        let count = string.utf8.count
        let copy = allocateRaw(byteCount: count + 1, alignment: 1)
        let nulOffset: Int? = string.withUTF8 { utf8 in
            guard let source = utf8.baseAddress, !utf8.isEmpty else { return nil }
            if let nul = memchr(source, 0, utf8.count) {
                return UnsafeRawPointer(source).distance(to: UnsafeRawPointer(nul))
            }
            copy.copyMemory(from: source, byteCount: utf8.count)
            return nil
        }
        if let nulOffset {
            throw WireEncodingError(
                messageType: messageType,
                reason: "field \(field): string contains NUL at offset \(nulOffset)"
            )
        }
        copy.storeBytes(of: 0, toByteOffset: count, as: UInt8.self)
        return copy.assumingMemoryBound(to: CChar.self)
    }

    /// A copy of `bytes` for a protobuf-c `bytes` field.
    public mutating func copyBytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let copy = allocateRaw(byteCount: bytes.count, alignment: 1)
        bytes.withUnsafeBytes { copy.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return ProtobufCBinaryData(len: bytes.count, data: copy.assumingMemoryBound(to: UInt8.self))
    }
}
