/// Limits on what a spec may hold, each with a stated reason. A violation is a `SpecError`,
/// never a crash or a hang.
public struct SpecLimits: Sendable, Hashable {
    /// The largest input, in bytes, read as one file or request (all of its documents). The
    /// default, 1 MiB, is far above any hand-written spec and bounds the memory one request
    /// can take before any other check runs.
    public var maxInputBytes: Int
    /// The deepest nesting of lists and maps. The default, 64, is far beyond any real spec
    /// and keeps every later walk of the tree shallow.
    public var maxNestingDepth: Int
    /// The most nodes that aliases may produce in one document, counting every node that
    /// an alias copies (nested aliases included). The default, 100,000, rejects a
    /// billion-laughs document while parsing, before anything walks the expanded tree.
    public var maxAliasExpansion: Int
    /// The most resources one environment (or one template) may have. The default,
    /// 100,000, is what the benchmarks need; planning stays around a second at that size.
    public var maxResources: Int

    public init(
        maxInputBytes: Int = 1 << 20,
        maxNestingDepth: Int = 64,
        maxAliasExpansion: Int = 100_000,
        maxResources: Int = 100_000
    ) {
        self.maxInputBytes = maxInputBytes
        self.maxNestingDepth = maxNestingDepth
        self.maxAliasExpansion = maxAliasExpansion
        self.maxResources = maxResources
    }

    /// The defaults.
    public static let `default` = SpecLimits()
}
