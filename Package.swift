// swift-tools-version: 6.0
import PackageDescription

/// One set of settings for every Swift target: Swift 6 mode with complete checking, and in
/// release builds generic code specialised across modules (the engine's executor for the
/// coordinator's records, say), which the compiler otherwise does only for small functions.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "Trellis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "trellisd", targets: ["trellisd"]),
        .executable(name: "trellis-agent", targets: ["trellis-agent"]),
        .executable(name: "trellis", targets: ["trellis"]),
        // The runtime, for programs built beside Trellis (bench/swift).
        .library(name: "TrellisRPC", targets: ["TrellisRPC"]),
        .library(name: "TrellisAPI", targets: ["TrellisAPI"]),
        .library(name: "TrellisEcho", targets: ["TrellisEcho"]),
        .library(name: "TrellisTLS", targets: ["TrellisTLS"]),
        .library(name: "TrellisWire", targets: ["TrellisWire"]),
        .library(name: "TrellisLogging", targets: ["TrellisLogging"]),
        // Specs, graphs and plans, for the engine benchmark (bench/engine).
        .library(name: "TrellisDomain", targets: ["TrellisDomain"]),
    ],
    targets: [
        // C shims, one per library.
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c"),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl"),
        .systemLibrary(name: "CEpoll"),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3"),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1"),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq"),
        // protobuf-c code generated from proto/ by scripts/gen-proto.
        .target(name: "CTrellisProto", dependencies: ["CProtobufC"]),

        // Runtime: threads outside the cooperative pool, logging, wire format, TLS, RPC.
        .target(name: "TrellisThreads", dependencies: ["CEpoll"], swiftSettings: swiftSettings),
        .target(name: "TrellisLogging", swiftSettings: swiftSettings),
        .target(
            name: "TrellisWire",
            dependencies: ["CProtobufC", "CTrellisProto"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TrellisTLS",
            dependencies: ["COpenSSL"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TrellisRPC",
            dependencies: ["CEpoll", "TrellisLogging", "TrellisThreads", "TrellisTLS", "TrellisWire"],
            swiftSettings: swiftSettings
        ),

        // The coordinator's durable state: documents, environments, resources, the journal.
        .target(
            name: "TrellisStore", dependencies: ["CSQLite", "TrellisLogging", "TrellisThreads"],
            swiftSettings: swiftSettings),

        // The API messages and service descriptors of proto/trellis/v1.
        .target(
            name: "TrellisAPI",
            dependencies: ["CProtobufC", "CTrellisProto", "TrellisWire"],
            swiftSettings: swiftSettings
        ),

        // Flag parsing shared by the executables' libraries.
        .target(name: "TrellisCommandLine", swiftSettings: swiftSettings),

        // trellis.echo.v1.EchoService, for tests, benchmarks and client authors.
        .target(
            name: "TrellisEcho",
            dependencies: ["TrellisAPI", "TrellisRPC", "TrellisWire"],
            swiftSettings: swiftSettings
        ),

        // Running dependency graphs of steps: ordering, parallelism, failure isolation.
        .target(name: "TrellisEngine", swiftSettings: swiftSettings),
        // The domain: specs, the resource graph, plans. Pure values and logic.
        .target(name: "TrellisDomain", dependencies: ["CYAML"], swiftSettings: swiftSettings),

        // The driver interface both the engine and agents run resources through.
        .target(
            name: "TrellisDrivers", dependencies: ["CLibPQ", "TrellisDomain", "TrellisThreads"],
            swiftSettings: swiftSettings),

        // The processes' libraries.
        .target(
            name: "TrellisCoordinator",
            dependencies: [
                "TrellisAPI", "TrellisCommandLine", "TrellisDomain", "TrellisDrivers", "TrellisEcho", "TrellisEngine",
                "TrellisLogging", "TrellisRPC", "TrellisStore", "TrellisTLS", "TrellisWire",
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TrellisAgent",
            dependencies: [
                "TrellisAPI", "TrellisCommandLine", "TrellisDomain", "TrellisDrivers", "TrellisLogging", "TrellisRPC",
                "TrellisTLS", "TrellisWire",
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TrellisCLI",
            dependencies: [
                "TrellisAPI", "TrellisCommandLine", "TrellisDomain", "TrellisLogging", "TrellisRPC", "TrellisTLS",
                "TrellisWire",
            ],
            swiftSettings: swiftSettings
        ),

        // Thin mains.
        .executableTarget(
            name: "trellisd",
            dependencies: ["TrellisAgent", "TrellisCommandLine", "TrellisCoordinator", "TrellisLogging"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "trellis-agent", dependencies: ["TrellisAgent"], swiftSettings: swiftSettings),
        .executableTarget(name: "trellis", dependencies: ["TrellisCLI"], swiftSettings: swiftSettings),

        // Tests.
        .target(
            name: "TrellisTestSupport",
            dependencies: ["TrellisEcho", "TrellisLogging", "TrellisRPC", "TrellisTLS", "TrellisWire"],
            path: "Tests/TrellisTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisAgentTests",
            dependencies: [
                "TrellisAgent", "TrellisAPI", "TrellisCommandLine", "TrellisDomain", "TrellisDrivers", "TrellisLogging",
                "TrellisRPC", "TrellisTestSupport", "TrellisTLS", "TrellisWire",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisCLITests",
            dependencies: ["TrellisAPI", "TrellisCLI"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisDriversTests",
            dependencies: ["TrellisDomain", "TrellisDrivers", "TrellisTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisEngineTests",
            dependencies: ["TrellisEngine", "TrellisTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisLoggingTests",
            dependencies: ["TrellisLogging", "TrellisTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisStoreTests",
            dependencies: ["TrellisStore", "TrellisTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisWireTests",
            dependencies: ["TrellisAPI", "TrellisWire"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisTLSTests",
            dependencies: ["TrellisTLS", "TrellisTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TrellisRPCTests",
            dependencies: [
                "TrellisAPI", "TrellisEcho", "TrellisRPC", "TrellisTestSupport", "TrellisTLS", "TrellisWire",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TrellisThreadsTests", dependencies: ["TrellisThreads"], swiftSettings: swiftSettings),
        .testTarget(name: "TrellisDomainTests", dependencies: ["TrellisDomain"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TrellisCoordinatorTests",
            dependencies: [
                "TrellisAPI", "TrellisCoordinator", "TrellisDomain", "TrellisDrivers", "TrellisEngine", "TrellisRPC",
                "TrellisStore", "TrellisTestSupport", "TrellisTLS", "TrellisWire",
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
