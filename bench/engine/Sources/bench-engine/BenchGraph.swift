import TrellisDomain

/// A graph of noop resources to plan or apply: names, edges and one delay for all.
///
/// Resource names are `r0`, `r1`, ... so that a 10,000-resource document stays well
/// under the default 1 MiB input limit.
struct BenchGraph: Sendable {
    /// What the shape is called in the table and the JSON lines (`wide`, `deep`, ...).
    let shape: String
    /// For each node, the nodes it depends on.
    let dependencies: [[Int]]
    /// The delay every resource takes, in milliseconds; 0 for none.
    let delayMilliseconds: Int

    var count: Int { dependencies.count }

    static func name(_ node: Int) -> String { "r\(node)" }

    /// One root and `count - 1` resources that depend on it.
    static func wide(_ count: Int, delayMilliseconds: Int = 0) -> BenchGraph {
        let dependencies = (0..<count).map { $0 == 0 ? [] : [0] }
        return BenchGraph(shape: "wide", dependencies: dependencies, delayMilliseconds: delayMilliseconds)
    }

    /// A chain: each resource depends on the one before it.
    static func deep(_ count: Int, delayMilliseconds: Int = 0) -> BenchGraph {
        let dependencies = (0..<count).map { $0 == 0 ? [] : [$0 - 1] }
        return BenchGraph(shape: "deep", dependencies: dependencies, delayMilliseconds: delayMilliseconds)
    }

    /// `chains` independent chains of `length` resources each.
    static func chains(_ chains: Int, of length: Int, delayMilliseconds: Int) -> BenchGraph {
        var dependencies: [[Int]] = []
        for _ in 0..<chains {
            for position in 0..<length {
                dependencies.append(position == 0 ? [] : [dependencies.count - 1])
            }
        }
        return BenchGraph(
            shape: "chains \(chains)x\(length)", dependencies: dependencies, delayMilliseconds: delayMilliseconds)
    }

    /// `layers` layers of `width` resources. Each resource past the first layer depends on
    /// one to three resources of the layer just before it (so its layer is exactly its
    /// position) and, one time in three, on one more from any earlier layer. The same
    /// seed gives the same graph.
    static func layered(layers: Int, width: Int, seed: UInt64, delayMilliseconds: Int) -> BenchGraph {
        var random = SplitMix64(seed: seed)
        var dependencies: [[Int]] = []
        for layer in 0..<layers {
            for _ in 0..<width {
                guard layer > 0 else {
                    dependencies.append([])
                    continue
                }
                let previous = (layer - 1) * width
                var edges = Set<Int>()
                let wanted = 1 + Int(random.next() % 3)
                while edges.count < wanted { edges.insert(previous + Int(random.next() % UInt64(width))) }
                if layer > 1, random.next() % 3 == 0 {
                    edges.insert(Int(random.next() % UInt64(previous)))
                }
                dependencies.append(edges.sorted())
            }
        }
        return BenchGraph(
            shape: "layered \(layers)x\(width)", dependencies: dependencies, delayMilliseconds: delayMilliseconds)
    }

    /// A Template holding the graph and an Environment of it, both named `name`, as one
    /// YAML input.
    func yaml(name: String) -> String {
        let params = delayMilliseconds > 0 ? ", params: {delay: \(delayMilliseconds)ms}" : ""
        var text = """
            apiVersion: trellis.dev/v1
            kind: Template
            metadata: {name: \(name)}
            spec:
              resources:

            """
        text.reserveCapacity(count * 48)
        for (node, edges) in dependencies.enumerated() {
            text += "    \(Self.name(node)): {type: noop\(params)"
            if !edges.isEmpty {
                text += ", dependsOn: [" + edges.map(Self.name).joined(separator: ", ") + "]"
            }
            text += "}\n"
        }
        text += """
            ---
            apiVersion: trellis.dev/v1
            kind: Environment
            metadata: {name: \(name)}
            spec:
              template: \(name)

            """
        return text
    }

    /// The domain's graph of the same nodes and edges.
    func resourceGraph() -> ResourceGraph {
        do {
            return try ResourceGraph(names: (0..<count).map(Self.name), dependencies: dependencies)
        } catch {
            preconditionFailure("benchmark graphs are acyclic: \(error.message)")
        }
    }

    /// The most resources of one layer: the parallelism the graph can use.
    var widestLayer: Int { resourceGraph().layers.map(\.count).max() ?? 0 }
}

/// A small deterministic generator (SplitMix64), so that a seed names one graph on every
/// platform and toolchain.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
