/// What decoding needs to know about one message type before protobuf-c sees it.
///
/// The generator emits one per message (`_wireSchema`). Fields not listed are unknown
/// fields: their encoding must be well formed, but their contents are not inspected.
@_spi(TrellisGenerated)
public final class WireSchema: Sendable {
    /// How a field's bytes are checked.
    public enum Kind: Sendable {
        /// int32, int64, uint32, uint64, sint32, sint64, bool, enum.
        case varint
        /// fixed32, sfixed32, float.
        case fixed32
        /// fixed64, sfixed64, double.
        case fixed64
        /// UTF-8 without NUL.
        case string
        /// Any bytes.
        case bytes
        /// A nested message, checked against its own schema.
        case message(WireSchema)
    }

    /// One known field.
    public struct Field: Sendable {
        public var number: UInt32
        public var name: String
        public var kind: Kind
        public var repeated: Bool

        public init(number: UInt32, name: String, kind: Kind, repeated: Bool) {
            self.number = number
            self.name = name
            self.kind = kind
            self.repeated = repeated
        }

        /// How errors name the field: `method (1)`.
        var label: String { "\(name) (\(number))" }
    }

    /// The fully qualified protobuf name of the message.
    public let messageName: String
    let fields: [Field]
    /// `fields[i].kind` and `fields[i].repeated`, apart so that the walk copies no strings.
    let kinds: [Kind]
    let repeated: [Bool]
    /// `slots[n]` is the index in `fields` plus one of field number n, 0 when unknown.
    let slots: [UInt16]

    public init(messageName: String, fields: [Field]) {
        self.messageName = messageName
        self.fields = fields
        self.kinds = fields.map(\.kind)
        self.repeated = fields.map(\.repeated)
        let dense = fields.map(\.number).filter { $0 < 256 }.max().map { Int($0) + 1 } ?? 0
        var slots = [UInt16](repeating: 0, count: dense)
        for (index, field) in fields.enumerated() where field.number < dense {
            slots[Int(field.number)] = UInt16(index + 1)
        }
        self.slots = slots
    }

    /// The index in `fields` of field `number`, or nil for an unknown field.
    @inline(__always)
    func fieldIndex(_ number: UInt32) -> Int? {
        if number < slots.count {
            let slot = slots[Int(number)]
            return slot == 0 ? nil : Int(slot) - 1
        }
        return fields.firstIndex { $0.number == number }
    }

    /// How errors name field `number`: `method (1)` when known, else just the number.
    func label(_ number: UInt32) -> String {
        fieldIndex(number).map { fields[$0].label } ?? "\(number)"
    }
}
