import TrellisWire

/// Which frames each side may send, and on which streams. A frame breaking these rules
/// is a connection error.
enum FrameRules {
    enum Receiver {
        case server
        case client
    }

    /// Why `frame` may not arrive at `receiver`, or nil if it may.
    static func violation(of frame: WireV1.Frame, receivedBy receiver: Receiver) -> String? {
        let id = frame.streamId
        switch frame.kind {
        case .ping, .pong, .goAway:
            if id != 0 { return "rpc: \(name(of: frame)) must use stream 0, not \(id)" }
        case .open, .message, .halfClose, .cancel, .close, .credit:
            if id == 0 { return "rpc: \(name(of: frame)) cannot use stream 0" }
        case nil:
            return "rpc: frame has no kind"
        }
        switch (receiver, frame.kind) {
        case (.server, .close):
            return "rpc: clients do not send Close (stream \(id)); use Cancel"
        case (.client, .open), (.client, .halfClose), (.client, .cancel):
            return "rpc: servers do not send \(name(of: frame)) (stream \(id))"
        default:
            return nil
        }
    }

    private static func name(of frame: WireV1.Frame) -> String {
        switch frame.kind {
        case .open: "Open"
        case .message: "Message"
        case .halfClose: "HalfClose"
        case .close: "Close"
        case .cancel: "Cancel"
        case .credit: "Credit"
        case .ping: "Ping"
        case .pong: "Pong"
        case .goAway: "GoAway"
        case nil: "a frame without a kind"
        }
    }
}

/// The rules for the metadata of an Open frame.
enum CallMetadata {
    /// Keys the runtime gives a meaning to, which may appear once each.
    static let singular: Set<String> = ["authorization", "request-id"]

    /// The metadata as a dictionary, or the `INVALID_ARGUMENT` that refuses it.
    static func validate(_ entries: [WireV1.MetadataEntry]) -> Result<[String: String], RPCError> {
        var metadata: [String: String] = [:]
        for entry in entries {
            let key = entry.key
            guard !key.isEmpty, key.utf8.allSatisfy(isKeyByte) else {
                return .failure(
                    RPCError(
                        .invalidArgument,
                        "rpc: metadata key \"\(key)\" must be lowercase letters, digits, '-', '_' or '.'"))
            }
            guard !key.hasPrefix("trellis-") else {
                return .failure(
                    RPCError(.invalidArgument, "rpc: metadata key \(key) uses the reserved prefix trellis-"))
            }
            if metadata[key] != nil && singular.contains(key) {
                return .failure(RPCError(.invalidArgument, "rpc: metadata key \(key) appears more than once"))
            }
            if key == "request-id" {
                guard entry.value.utf8.count <= 128, entry.value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                    return .failure(
                        RPCError(
                            .invalidArgument, "rpc: request-id must be at most 128 printable ASCII characters"))
                }
            }
            metadata[key] = entry.value
        }
        return .success(metadata)
    }

    private static func isKeyByte(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F
            || byte == 0x2E
    }
}
