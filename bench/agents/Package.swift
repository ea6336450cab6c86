// swift-tools-version: 6.0
import PackageDescription

// The agents benchmark's load tool: thousands of simulated agents, each with its own
// client certificate and Connect stream, against a real trellisd (see bench/README.md).
let package = Package(
    name: "TrellisAgentsBench",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Trellis", path: "../..")],
    targets: [
        .executableTarget(
            name: "bench-agents",
            dependencies: [
                .product(name: "TrellisAPI", package: "Trellis"),
                .product(name: "TrellisRPC", package: "Trellis"),
                .product(name: "TrellisTLS", package: "Trellis"),
                .product(name: "TrellisWire", package: "Trellis"),
            ],
            swiftSettings: [
                .swiftLanguageMode(.v6),
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ]
        )
    ]
)
