// swift-tools-version: 6.0
import PackageDescription

/// The Trellis side of `bench/run-rpc`: a server and a client over the runtime's library
/// products, obeying the contract in bench/README.md. The runtime comes from the
/// repository's root package by path; nothing is fetched.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "TrellisBench",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bench-trellis-server", targets: ["bench-trellis-server"]),
        .executable(name: "bench-trellis-client", targets: ["bench-trellis-client"]),
    ],
    dependencies: [
        .package(name: "Trellis", path: "../..")
    ],
    targets: [
        // sched_getaffinity, which Glibc's Swift module does not offer.
        .target(name: "CBenchAffinity"),
        // Flags, the server, the three client modes and their JSON lines.
        .target(
            name: "BenchSupport",
            dependencies: [
                "CBenchAffinity",
                .product(name: "TrellisRPC", package: "Trellis"),
                .product(name: "TrellisAPI", package: "Trellis"),
                .product(name: "TrellisEcho", package: "Trellis"),
                .product(name: "TrellisTLS", package: "Trellis"),
                .product(name: "TrellisWire", package: "Trellis"),
                .product(name: "TrellisLogging", package: "Trellis"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "bench-trellis-server", dependencies: ["BenchSupport"], swiftSettings: swiftSettings),
        .executableTarget(
            name: "bench-trellis-client", dependencies: ["BenchSupport"], swiftSettings: swiftSettings),
    ]
)
