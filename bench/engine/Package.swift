// swift-tools-version: 6.0
import PackageDescription

// The engine benchmark: planning in process with the domain API, and applying noop
// graphs through a real trellisd (see README.md).
let package = Package(
    name: "TrellisEngineBench",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Trellis", path: "../..")],
    targets: [
        .executableTarget(
            name: "bench-engine",
            dependencies: [
                .product(name: "TrellisAPI", package: "Trellis"),
                .product(name: "TrellisDomain", package: "Trellis"),
                .product(name: "TrellisLogging", package: "Trellis"),
                .product(name: "TrellisRPC", package: "Trellis"),
                .product(name: "TrellisTLS", package: "Trellis"),
            ],
            swiftSettings: [
                .swiftLanguageMode(.v6),
                .enableUpcomingFeature("ExistentialAny"),
                .enableUpcomingFeature("MemberImportVisibility"),
            ]
        )
    ]
)
