// swift-tools-version:6.0
// grpc-web-proxy: a gRPC-Web / grpc-websockets to native gRPC (HTTP/2) proxy.
// No Swift package dependencies: only the toolchain and C system libraries (nghttp2, OpenSSL).
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    // Release builds skip the dynamic exclusivity checks (about 6% of instructions per call in callgrind);
    // debug builds, which the tests run, keep them.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "grpc-web-proxy",
    products: [
        .executable(name: "grpc-web-proxy", targets: ["grpc-web-proxy"]),
        // The codecs and config as libraries, only so the fuzz package (Fuzz/) can depend on them by path.
        .library(name: "ProxyCodecs", targets: ["HTTP1Codec", "GRPCWebCodec", "WebSocketCodec", "YAML", "JSON", "Config"]),
    ],
    targets: [
        // Layer 1: C bridges. Only the Swift module that owns a C library imports it.
        .systemLibrary(name: "CNGHTTP2", path: "Sources/CBridges/CNGHTTP2",
                       pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/CBridges/COpenSSL",
                       pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "CProxyLinux", path: "Sources/CBridges/CProxyLinux"),

        // Layer 2: event loop (epoll, timers, cross-thread hand-over).
        .target(name: "EventLoop", dependencies: ["CProxyLinux"], swiftSettings: strict),
        // Layer 3: TLS (the only user of OpenSSL's SSL API), then sockets, listeners and buffered connections,
        // which run over TLS or cleartext alike.
        .target(name: "TLS", dependencies: ["COpenSSL"], swiftSettings: strict),
        .target(name: "Transport", dependencies: ["EventLoop", "CProxyLinux", "TLS"], swiftSettings: strict),

        // Layer 4: pure codecs, no I/O.
        .target(name: "HTTP1Codec", path: "Sources/Codecs/HTTP1", swiftSettings: strict),
        .target(name: "GRPCWebCodec", path: "Sources/Codecs/GRPCWeb", swiftSettings: strict),
        .target(name: "WebSocketCodec", dependencies: ["COpenSSL"], path: "Sources/Codecs/WebSocket", swiftSettings: strict),
        .target(name: "YAML", path: "Sources/Codecs/YAML", swiftSettings: strict),
        .target(name: "JSON", path: "Sources/Codecs/JSON", swiftSettings: strict),
        // Config reads JWKS files (JSON) and builds their public keys (TLS) at load, so a bad key set is a
        // located config error rather than a surprise at the first call.
        .target(name: "Config", dependencies: ["YAML", "JSON", "TLS"], swiftSettings: strict),

        // Layer 5: the nghttp2 driver both HTTP/2 roles share (the only user of nghttp2), then upstream
        // connections, pools and clusters.
        .target(name: "HTTP2", dependencies: ["CNGHTTP2", "Transport"], swiftSettings: strict),
        .target(name: "Upstream", dependencies: ["HTTP2", "EventLoop", "Transport", "TLS", "GRPCWebCodec", "Config"], swiftSettings: strict),
        // Layer 6: the stream bridge (gRPC-Web / WebSocket downstream <-> HTTP/2 upstream).
        .target(name: "Proxy", dependencies: ["EventLoop", "Transport", "TLS", "HTTP2", "HTTP1Codec", "GRPCWebCodec", "WebSocketCodec", "Config", "Upstream", "JSON"], swiftSettings: strict),
        // Layer 7: workers, listeners, admin, signals.
        .target(name: "Server", dependencies: ["EventLoop", "Transport", "TLS", "HTTP1Codec", "Config", "Upstream", "Proxy", "CProxyLinux"], swiftSettings: strict),
        // Layer 8: the executable: argument parsing only.
        .executableTarget(name: "grpc-web-proxy", dependencies: ["Server", "Config"], swiftSettings: strict),

        // Codec micro-benchmarks (dependency-free executable, run by `make bench`).
        .executableTarget(name: "CodecBenchmarks", dependencies: ["HTTP1Codec", "GRPCWebCodec", "WebSocketCodec", "Config", "Proxy", "JSON", "TLS"],
                          path: "Benchmarks/CodecBenchmarks", swiftSettings: strict),

        .testTarget(name: "EventLoopTests", dependencies: ["EventLoop", "Transport", "TLS"]),
        .testTarget(name: "TLSTests", dependencies: ["TLS"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "HTTP1CodecTests", dependencies: ["HTTP1Codec"]),
        .testTarget(name: "GRPCWebCodecTests", dependencies: ["GRPCWebCodec"]),
        .testTarget(name: "WebSocketCodecTests", dependencies: ["WebSocketCodec"]),
        .testTarget(name: "ConfigTests", dependencies: ["Config", "YAML", "TLS"]),
        .testTarget(name: "ProxyTests", dependencies: ["Proxy", "Config", "HTTP1Codec", "GRPCWebCodec", "Upstream", "JSON", "TLS"]),
    ]
)
