/// A protobuf message with a Swift value representation.
///
/// Every message type generated from proto/ conforms. Decoding validates the bytes
/// before protobuf-c sees them (string fields must be valid UTF-8 without NUL, message
/// nesting must stay within ``WireLimits/maxNestingDepth``), then copies the unpacked
/// C message into Swift values and frees it. C structs never escape the generated code.
public protocol WireMessage: Sendable, Hashable {
    /// The fully qualified protobuf name, e.g. `trellis.wire.v1.Frame`.
    static var protoName: String { get }

    /// A message with every field at its default.
    init()

    /// Decodes a message from its protobuf encoding.
    ///
    /// - Throws: ``WireDecodingError`` naming the message type and what was wrong.
    init(decoding bytes: UnsafeRawBufferPointer) throws(WireDecodingError)

    /// Appends the protobuf encoding of the message to `buffer`.
    ///
    /// - Throws: ``WireEncodingError`` when a string holds a NUL character, which
    ///   protobuf-c cannot carry.
    func encode(appendingTo buffer: inout [UInt8]) throws(WireEncodingError)
}

extension WireMessage {
    /// Decodes a message from its protobuf encoding in an array.
    @inlinable
    public init(decoding bytes: [UInt8]) throws(WireDecodingError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(WireDecodingError) in try Self(decoding: raw) } }
        self = try result.get()
    }

    /// The protobuf encoding of the message.
    @inlinable
    public func encoded() throws(WireEncodingError) -> [UInt8] {
        var buffer: [UInt8] = []
        try encode(appendingTo: &buffer)
        return buffer
    }
}

/// Limits that decoding enforces on untrusted bytes.
public enum WireLimits {
    /// The deepest nesting of messages inside messages that decoding accepts. The
    /// schemas in proto/ contain no recursive types, so real messages stay far below it;
    /// the check guards protobuf-c, which has no nesting limit of its own.
    public static let maxNestingDepth = 32
}
