/// One line to be written.
public struct LogRecord: Sendable {
    public var level: Logger.Level
    public var label: String
    public var message: String
    public var metadata: Logger.Metadata
    /// Wall-clock time in nanoseconds since the Unix epoch.
    public var timestampNanoseconds: Int64

    public init(
        level: Logger.Level,
        label: String,
        message: String,
        metadata: Logger.Metadata,
        timestampNanoseconds: Int64 = WallClock.nowNanoseconds()
    ) {
        self.level = level
        self.label = label
        self.message = message
        self.metadata = metadata
        self.timestampNanoseconds = timestampNanoseconds
    }
}
