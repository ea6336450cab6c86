/// The checks decoding makes on untrusted bytes before handing them to protobuf-c.
///
/// protobuf-c 1.4.1 accepts invalid UTF-8, turns a string with an embedded NUL into a
/// shorter C string, and recurses without a depth limit. The validator walks the
/// encoding once, driven by ``WireSchema``, and rejects all three, as well as malformed
/// tags, varints and lengths and wire types that do not match a known field.
@_spi(TrellisGenerated)
public enum WireValidator {
    /// Checks `bytes` as an encoding of the message `schema` describes.
    ///
    /// - Throws: ``WireDecodingError`` naming `schema`'s message and, for nested
    ///   messages, the path of fields to the problem; offsets count from the start
    ///   of `bytes`.
    public static func validate(
        _ bytes: UnsafeRawBufferPointer,
        schema: WireSchema
    ) throws(WireDecodingError) {
        try validate(bytes, schema: schema, maxNestingDepth: WireLimits.maxNestingDepth)
    }

    /// ``validate(_:schema:)`` with a chosen nesting limit, for tests of the limit itself.
    static func validate(
        _ bytes: UnsafeRawBufferPointer,
        schema: WireSchema,
        maxNestingDepth: Int
    ) throws(WireDecodingError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        let walker = Walker(bytes: base.assumingMemoryBound(to: UInt8.self), maxNestingDepth: maxNestingDepth)
        do {
            try walker.checkMessage(schema, from: 0, to: bytes.count, depth: 1)
        } catch {
            throw WireDecodingError(code: error.code, messageType: schema.messageName, reason: error.reason)
        }
    }
}

/// A failure inside the walk; the top level adds the message type.
struct ValidationFailure: Error {
    var code: WireDecodingError.Code
    var reason: String

    func inField(_ label: String) -> ValidationFailure {
        ValidationFailure(code: code, reason: "field \(label): \(reason)")
    }
}

private struct Walker {
    let bytes: UnsafePointer<UInt8>
    let maxNestingDepth: Int

    init(bytes: UnsafePointer<UInt8>, maxNestingDepth: Int) {
        self.bytes = bytes
        self.maxNestingDepth = maxNestingDepth
    }

    func checkMessage(_ schema: WireSchema, from start: Int, to end: Int, depth: Int) throws(ValidationFailure) {
        var offset = start
        while offset < end {
            let tagOffset = offset
            guard let tag = readVarint(&offset, end), tag <= UInt32.max else {
                throw malformed("malformed tag at offset \(tagOffset)")
            }
            let number = UInt32(truncatingIfNeeded: tag >> 3)
            let wireType = Int(tag & 7)
            guard number != 0 else {
                throw malformed("field number 0 at offset \(tagOffset)")
            }
            let index = schema.fieldIndex(number)

            switch wireType {
            case 0:
                let valueOffset = offset
                guard readVarint(&offset, end) != nil else {
                    throw malformed("field \(schema.label(number)): malformed varint at offset \(valueOffset)")
                }
                try expect(schema, index, wireType: 0, at: tagOffset)
            case 1, 5:
                let width = wireType == 1 ? 8 : 4
                guard end - offset >= width else {
                    throw malformed(
                        "field \(schema.label(number)): \(width)-byte value at offset \(offset) is truncated"
                    )
                }
                offset += width
                try expect(schema, index, wireType: wireType, at: tagOffset)
            case 2:
                let lengthOffset = offset
                guard let length = readVarint(&offset, end) else {
                    throw malformed("field \(schema.label(number)): malformed length at offset \(lengthOffset)")
                }
                guard length <= UInt64(end - offset) else {
                    throw malformed(
                        "field \(schema.label(number)): length \(length) at offset \(lengthOffset) "
                            + "exceeds the \(end - offset) bytes left"
                    )
                }
                let bodyStart = offset
                offset += Int(length)
                if let index {
                    try checkLengthDelimited(
                        schema,
                        index,
                        from: bodyStart,
                        to: offset,
                        depth: depth,
                        tagOffset: tagOffset
                    )
                }
            case 3, 4:
                throw malformed(
                    "field \(schema.label(number)): group at offset \(tagOffset); groups are not supported"
                )
            default:
                throw malformed(
                    "field \(schema.label(number)): invalid wire type \(wireType) at offset \(tagOffset)"
                )
            }
        }
    }

    private func checkLengthDelimited(
        _ schema: WireSchema,
        _ index: Int,
        from start: Int,
        to end: Int,
        depth: Int,
        tagOffset: Int
    ) throws(ValidationFailure) {
        switch schema.kinds[index] {
        case .bytes:
            return
        case .string:
            if let problem = firstInvalidCharacter(from: start, to: end) {
                let what = problem.isNUL ? "NUL character" : "invalid UTF-8"
                throw ValidationFailure(
                    code: .invalidString,
                    reason: "field \(schema.fields[index].label): \(what) at offset \(problem.offset)"
                )
            }
        case .message(let child):
            guard depth < maxNestingDepth else {
                throw ValidationFailure(
                    code: .tooDeep,
                    reason: "field \(schema.fields[index].label): messages nest deeper than "
                        + "\(maxNestingDepth) levels at offset \(start)"
                )
            }
            do {
                try checkMessage(child, from: start, to: end, depth: depth + 1)
            } catch {
                throw error.inField(schema.fields[index].label)
            }
        case .varint, .fixed32, .fixed64:
            guard schema.repeated[index] else {
                throw wrongWireType(schema.fields[index], found: 2, at: tagOffset)
            }
            try checkPacked(schema.fields[index], from: start, to: end)
        }
    }

    private func checkPacked(_ field: WireSchema.Field, from start: Int, to end: Int) throws(ValidationFailure) {
        switch field.kind {
        case .fixed32, .fixed64:
            let width = if case .fixed32 = field.kind { 4 } else { 8 }
            guard (end - start) % width == 0 else {
                throw malformed("field \(field.label): packed length \(end - start) is not a multiple of \(width)")
            }
        default:
            var offset = start
            while offset < end {
                let valueOffset = offset
                guard readVarint(&offset, end) != nil else {
                    throw malformed("field \(field.label): malformed packed varint at offset \(valueOffset)")
                }
            }
        }
    }

    @inline(__always)
    private func expect(
        _ schema: WireSchema,
        _ index: Int?,
        wireType: Int,
        at offset: Int
    ) throws(ValidationFailure) {
        guard let index else { return }
        let expected: Int? =
            switch schema.kinds[index] {
            case .varint: 0
            case .fixed64: 1
            case .fixed32: 5
            case .string, .bytes, .message: nil
            }
        if expected != wireType {
            throw wrongWireType(schema.fields[index], found: wireType, at: offset)
        }
    }

    private func wrongWireType(_ field: WireSchema.Field, found: Int, at offset: Int) -> ValidationFailure {
        let expected =
            switch field.kind {
            case .varint: "varint (0)"
            case .fixed64: "64-bit (1)"
            case .fixed32: "32-bit (5)"
            case .string, .bytes, .message: "length-delimited (2)"
            }
        return malformed("field \(field.label): wire type \(found) at offset \(offset), expected \(expected)")
    }

    private func malformed(_ reason: String) -> ValidationFailure {
        ValidationFailure(code: .malformed, reason: reason)
    }

    /// Reads a varint of at most 10 bytes that fits in 64 bits.
    @inline(__always)
    private func readVarint(_ offset: inout Int, _ end: Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while offset < end {
            let byte = bytes[offset]
            offset += 1
            if shift == 63 && byte > 1 {
                return nil
            }
            result |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 {
                return result
            }
            shift += 7
            if shift > 63 {
                return nil
            }
        }
        return nil
    }

    /// The first byte that makes `bytes[start..<end]` not UTF-8, or that is NUL.
    ///
    /// Rejects overlong forms, surrogates and code points above U+10FFFF, as Swift's
    /// own decoding would repair them.
    private func firstInvalidCharacter(from start: Int, to end: Int) -> (offset: Int, isNUL: Bool)? {
        var offset = start
        while offset < end {
            // Eight ASCII bytes without a zero at a time: the common case.
            if end - offset >= 8 {
                let word = UnsafeRawPointer(bytes + offset).loadUnaligned(as: UInt64.self)
                let high: UInt64 = 0x8080_8080_8080_8080
                let hasZero = (word &- 0x0101_0101_0101_0101) & ~word & high
                if word & high == 0 && hasZero == 0 {
                    offset += 8
                    continue
                }
            }
            let lead = bytes[offset]
            if lead == 0 {
                return (offset, true)
            }
            if lead < 0x80 {
                offset += 1
                continue
            }
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            let continuations: Int
            switch lead {
            case 0xC2...0xDF: continuations = 1
            case 0xE0: continuations = 2; lower = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: continuations = 2
            case 0xED: continuations = 2; upper = 0x9F
            case 0xF0: continuations = 3; lower = 0x90
            case 0xF1...0xF3: continuations = 3
            case 0xF4: continuations = 3; upper = 0x8F
            default: return (offset, false)
            }
            guard end - offset > continuations else {
                return (offset, false)
            }
            let second = bytes[offset + 1]
            guard second >= lower && second <= upper else {
                return (offset, false)
            }
            var index = 2
            while index <= continuations {
                guard bytes[offset + index] & 0xC0 == 0x80 else {
                    return (offset, false)
                }
                index += 1
            }
            offset += continuations + 1
        }
        return nil
    }
}
