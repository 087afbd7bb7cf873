// swift-tools-version:6.1
import PackageDescription

/// Strict settings shared by every target: Swift 6 language mode, explicit `any`,
/// imports internal unless marked `public import`, and members visible only through
/// the module that declares them.
let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "Magnetar",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bookie", targets: ["bookie"]),
        .executable(name: "broker", targets: ["broker"]),
        .executable(name: "magnetar", targets: ["magnetar"]),
        .library(name: "Codec", targets: ["Codec"]),
        .library(name: "Metadata", targets: ["Metadata"]),
        .library(name: "BookieWire", targets: ["BookieWire"]),
        .library(name: "MagnetarClient", targets: ["MagnetarClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        // System libraries (installed by tools/setup).
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CISAL", pkgConfig: "libisal", providers: [.apt(["libisal-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CRocksDB", pkgConfig: "rocksdb", providers: [.apt(["librocksdb-dev"])]),

        // Bottom layer.
        .target(name: "MagnetarVersion", swiftSettings: strictSettings),
        .target(name: "Settings", swiftSettings: strictSettings),
        .target(
            name: "Codec",
            dependencies: [
                "CLZ4", "CZstd", "CISAL",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "BookieWire",
            dependencies: ["Codec", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "BookieStorage",
            dependencies: ["Codec", "BookieWire", "CRocksDB", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .target(
            name: "BookieServer",
            dependencies: [
                "Autorecovery", "BookieStorage", "BookieWire", "Ledger", "MagnetarHTTP", "Metadata",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "EtcdAPI",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["etcd.proto", "generate.sh"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(
            name: "PulsarProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["PulsarApi.proto", "generate.sh"],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
        .target(
            name: "PulsarWire",
            dependencies: [
                "Codec", "PulsarProto",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Metadata",
            dependencies: [
                "CSQLite", "EtcdAPI",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Ledger",
            dependencies: [
                "BookieWire", "Metadata",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "Autorecovery",
            dependencies: [
                "Ledger", "Metadata",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .target(name: "ClusterVerification", dependencies: ["Ledger", "Metadata"], swiftSettings: strictSettings),
        .target(
            name: "Broker",
            dependencies: [
                "Codec", "Ledger", "MagnetarHTTP", "MagnetarHTTPClient", "MagnetarVersion", "ManagedLedger", "Metadata", "PulsarProto", "PulsarWire",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "ManagedLedger",
            dependencies: [
                "Ledger", "Metadata",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MagnetarHTTPClient",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "MagnetarHTTP",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),

        .target(
            name: "MagnetarClient",
            dependencies: [
                "Codec", "MagnetarHTTPClient", "PulsarProto", "PulsarWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSettings
        ),

        // Tools and test harness.
        .target(
            name: "Perf",
            dependencies: [
                "Codec", "Metadata", "BookieWire", "Ledger", "MagnetarClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(name: "ClusterTesting", dependencies: ["Metadata"], swiftSettings: strictSettings),
        .target(
            name: "LedgerTesting",
            dependencies: [
                "BookieStorage", "BookieWire", "ClusterTesting", "Ledger", "Metadata",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),

        // Executables: configuration parsing only.
        .executableTarget(
            name: "bookie",
            dependencies: [
                "Autorecovery", "MagnetarVersion", "BookieServer", "Settings",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "bookie",
            exclude: ["bookie.conf"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "broker",
            dependencies: [
                "MagnetarVersion", "Broker", "Codec", "Settings",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "broker",
            exclude: ["broker.conf"],
            swiftSettings: strictSettings
        ),
        .target(name: "FuzzDriver", path: "Sources/Fuzzing/Driver", swiftSettings: strictSettings),
        .executableTarget(
            name: "FuzzPulsarFrames",
            dependencies: [
                "Broker", "FuzzDriver", "PulsarProto", "PulsarWire",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Sources/Fuzzing/PulsarFrames",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzBookieFrames",
            dependencies: ["BookieServer", "FuzzDriver"],
            path: "Sources/Fuzzing/BookieFrames",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzRESTBodies",
            dependencies: [
                "Broker", "FuzzDriver", "LedgerTesting",
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            path: "Sources/Fuzzing/RESTBodies",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "FuzzStorageFiles",
            dependencies: ["BookieStorage", "FuzzDriver"],
            path: "Sources/Fuzzing/StorageFiles",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "magnetar",
            dependencies: [
                "ClusterVerification", "Ledger", "MagnetarClient", "MagnetarHTTP", "MagnetarHTTPClient", "MagnetarVersion", "Metadata", "Perf", "Settings",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "tools/magnetar",
            swiftSettings: strictSettings
        ),

        // Tests.
        .testTarget(name: "CodecTests", dependencies: ["ClusterTesting", "Codec"], swiftSettings: strictSettings),
        .testTarget(
            name: "BookieServerTests",
            dependencies: [
                "BookieServer", "BookieStorage", "BookieWire", "ClusterTesting", "Ledger", "Metadata", "bookie",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "BookieStorageTests",
            dependencies: ["BookieStorage", "ClusterTesting", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "BookieWireTests",
            dependencies: [
                "BookieWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PulsarWireTests",
            dependencies: [
                "PulsarWire", "PulsarProto", "Codec",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MetadataTests",
            dependencies: ["Metadata", "ClusterTesting", "magnetar"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "PerfTests",
            dependencies: [
                "Perf", "Metadata", "ClusterTesting",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ToolsTests",
            dependencies: [
                "ClusterTesting", "MagnetarVersion", "magnetar", "bookie", "broker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AutorecoveryTests",
            dependencies: [
                "Autorecovery", "ClusterTesting", "ClusterVerification", "Ledger", "Metadata", "bookie", "broker", "magnetar",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "LedgerTests",
            dependencies: [
                "Ledger", "LedgerTesting", "Metadata", "ClusterTesting", "BookieStorage", "BookieWire",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "BrokerTests",
            dependencies: [
                "Broker", "BookieWire", "ClusterTesting", "Codec", "Ledger", "LedgerTesting", "ManagedLedger", "Metadata", "PulsarProto", "PulsarWire", "bookie", "broker",
                "magnetar",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Scripts"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "FaultTests",
            dependencies: [
                "BookieStorage", "BookieWire", "ClusterTesting", "Ledger", "LedgerTesting", "Metadata", "bookie", "broker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Scripts"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ManagedLedgerTests",
            dependencies: [
                "ManagedLedger", "Ledger", "LedgerTesting", "Metadata", "ClusterTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "MagnetarClientTests",
            dependencies: [
                "MagnetarClient", "MagnetarHTTPClient", "ClusterTesting", "Codec", "PulsarProto", "PulsarWire", "bookie", "broker", "magnetar",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            exclude: ["Scripts"],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "SettingsTests", dependencies: ["Settings", "ClusterTesting"], swiftSettings: strictSettings),
        .testTarget(
            name: "MagnetarHTTPTests",
            dependencies: [
                "MagnetarHTTP", "MagnetarHTTPClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
    ]
)
