import TrellisWire

/// Constructors for the frames the runtime sends, so the rest of the runtime reads as
/// protocol steps rather than field assignments.
enum Frames {
    static func open(_ stream: UInt32, method: String, metadata: [String: String], timeoutMs: UInt64) -> WireV1.Frame {
        var open = WireV1.Open()
        open.method = method
        open.timeoutMs = timeoutMs
        open.metadata = metadata.sorted { $0.key < $1.key }.map { key, value in
            var entry = WireV1.MetadataEntry()
            entry.key = key
            entry.value = value
            return entry
        }
        return frame(stream, .open(open))
    }

    static func message(_ stream: UInt32, _ data: [UInt8]) -> WireV1.Frame {
        var message = WireV1.Message()
        message.data = data
        return frame(stream, .message(message))
    }

    static func halfClose(_ stream: UInt32) -> WireV1.Frame {
        frame(stream, .halfClose(WireV1.HalfClose()))
    }

    static func close(_ stream: UInt32, _ status: RPCError) -> WireV1.Frame {
        var close = WireV1.Close()
        close.code = status.code.rawValue
        close.message = status.message
        close.details = status.details
        return frame(stream, .close(close))
    }

    static func closeOK(_ stream: UInt32) -> WireV1.Frame {
        frame(stream, .close(WireV1.Close()))
    }

    static func cancel(_ stream: UInt32) -> WireV1.Frame {
        frame(stream, .cancel(WireV1.Cancel()))
    }

    static func credit(_ stream: UInt32, bytes: UInt32) -> WireV1.Frame {
        var credit = WireV1.Credit()
        credit.bytes = bytes
        return frame(stream, .credit(credit))
    }

    static func ping(_ payload: UInt64) -> WireV1.Frame {
        var ping = WireV1.Ping()
        ping.payload = payload
        return frame(0, .ping(ping))
    }

    static func pong(_ payload: UInt64) -> WireV1.Frame {
        var pong = WireV1.Pong()
        pong.payload = payload
        return frame(0, .pong(pong))
    }

    static func goAway(lastStream: UInt32, code: StatusCode, message: String) -> WireV1.Frame {
        var goAway = WireV1.GoAway()
        goAway.lastStreamId = lastStream
        goAway.code = code.rawValue
        goAway.message = message
        return frame(0, .goAway(goAway))
    }

    private static func frame(_ stream: UInt32, _ kind: WireV1.Frame.Kind) -> WireV1.Frame {
        var frame = WireV1.Frame()
        frame.streamId = stream
        frame.kind = kind
        return frame
    }
}
