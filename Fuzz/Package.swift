// swift-tools-version:6.0
// libFuzzer targets for the codecs and config decoding (issue 9). Built and run only by `make fuzz`, never by the
// root package: each target needs `-sanitize=fuzzer`, which the normal build must not depend on.
//   swift build --package-path Fuzz -c debug --scratch-path .build-fuzz -Xswiftc -sanitize=fuzzer,address
// SwiftPM renames an executable's `main`, which hides libFuzzer's, so each target's top-level code calls
// `runLibFuzzer` (LLVMFuzzerRunDriver) with its LLVMFuzzerTestOneInput function.
import PackageDescription

let codecs: Target.Dependency = .product(name: "ProxyCodecs", package: "grpc-web-proxy")

/// Targets, each a libFuzzer binary with a seed corpus in Fuzz/corpus/<name>/.
let fuzzTargets = [
    "FuzzHTTP1Request", "FuzzHTTP1Chunked", "FuzzGRPCFrames", "FuzzBase64Stream", "FuzzGRPCTrailers", "FuzzGRPCHeaders",
    "FuzzWebSocketFrames", "FuzzWebSocketHandshake", "FuzzGRPCWebSocketsMetadata", "FuzzYAML", "FuzzConfig",
    "FuzzHTTPHeadersParam", "FuzzJSON",
]

let package = Package(
    name: "grpc-web-proxy-fuzz",
    dependencies: [.package(name: "grpc-web-proxy", path: "..")],
    targets: [
        .target(name: "CFuzzerDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver", codecs]),
    ] + fuzzTargets.map { .executableTarget(name: $0, dependencies: ["FuzzSupport", codecs]) }
)
