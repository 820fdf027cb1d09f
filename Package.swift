// swift-tools-version: 6.1
//
// Dossier: an event-sourced personnel lifecycle ledger on PostgreSQL.
//
// Layers, each a target that depends only on those below it:
//   CLibPQ          the system libpq (apt: libpq-dev)
//   PostgresClient  a small safe Swift wrapper over libpq; the only importer of CLibPQ
//   DossierDomain   decisions, events, policy rules, projections as pure folds, hashing (no I/O)
//   DossierStore    the PostgreSQL event store, the ledger service, projections, the embedded cluster
//   DossierServer   `dossier serve`: the JSON API and the web interface (Hummingbird 2)
//   DossierCLI      the `dossier` command-line tool
import PackageDescription

let package = Package(
    name: "Dossier",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dossier", targets: ["DossierCLI"]),
        .executable(name: "dossier-sample", targets: ["DossierSample"]),
        .executable(name: "dossier-bench", targets: ["DossierBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(
            name: "PostgresClient",
            dependencies: ["CLibPQ"]
        ),
        .target(
            name: "DossierDomain",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        .executableTarget(
            name: "EmbedSchemaTool"
        ),
        .plugin(
            name: "EmbedSchema",
            capability: .buildTool(),
            dependencies: ["EmbedSchemaTool"]
        ),
        .target(
            name: "DossierStore",
            dependencies: ["PostgresClient", "DossierDomain"],
            plugins: ["EmbedSchema"]
        ),
        .target(
            name: "DossierServer",
            dependencies: [
                "DossierStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "DossierCLI",
            dependencies: [
                "DossierStore",
                "DossierServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "DossierSample",
            dependencies: [
                "DossierDomain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "DossierBench",
            dependencies: [
                "DossierStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // Test helpers: the throwaway databases every database test runs against.
        .target(
            name: "DossierTestSupport",
            dependencies: ["DossierStore", "PostgresClient"],
            path: "Tests/Support"
        ),
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient", "DossierTestSupport"]),
        .testTarget(name: "DossierDomainTests", dependencies: ["DossierDomain"]),
        .testTarget(name: "DossierCLITests", dependencies: ["DossierTestSupport", "DossierDomain"]),
        .testTarget(
            name: "DossierServerTests",
            dependencies: [
                "DossierServer", "DossierStore", "DossierTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "DossierStoreTests",
            dependencies: ["DossierStore", "PostgresClient", "DossierTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
