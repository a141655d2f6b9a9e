import XCTest
import Foundation
import Config

final class ConfigExampleFilesTests: XCTestCase {
    func load(_ name: String, environment: [String: String] = [:]) throws -> ProxyConfig {
        try ConfigLoader.load(path: repositoryConfigDirectory() + "/" + name, environment: environment)
    }

    func testEveryFileInConfigFolderLoads() throws {
        let directory = repositoryConfigDirectory()
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
            .sorted()
        XCTAssertTrue(Set(["minimal.yaml", "reference.yaml", "multi-service.yaml"]).isSubset(of: Set(names)), "\(names)")
        for name in names {
            do {
                let config = try ConfigLoader.load(path: directory + "/" + name, environment: [:])
                XCTAssertFalse(config.listeners.isEmpty, name)
            } catch {
                XCTFail("\(name): \(error)")
            }
        }
    }

    func testMinimalFile() throws {
        let config = try load("minimal.yaml")
        XCTAssertEqual(config.listeners.count, 1)
        let listener = config.listeners[0]
        XCTAssertEqual(listener.name, "web")
        XCTAssertEqual(listener.address, SocketAddressSpec(host: "127.0.0.1", port: 8080))
        XCTAssertTrue(listener.websocket)
        XCTAssertEqual(listener.cors?.allowOrigins, ["*"])
        XCTAssertEqual(listener.cors?.maxAge, .seconds(86400))
        XCTAssertEqual(listener.cors?.allowCredentials, false)
        XCTAssertEqual(listener.routes.count, 1)
        let route = listener.routes[0]
        XCTAssertEqual(route.match, .prefix("/"))
        XCTAssertEqual(route.cluster, "backend")
        XCTAssertEqual(route.timeout, .seconds(30))
        XCTAssertNil(route.maxRequestBytes)
        XCTAssertNil(route.websocket)
        XCTAssertTrue(route.headers.isEmpty)
        XCTAssertEqual(route.cors?.allowOrigins, ["*"], "a route inherits the listener's CORS policy")

        let cluster = try XCTUnwrap(config.cluster(named: "backend"))
        XCTAssertEqual(cluster.endpoints, [SocketAddressSpec(host: "127.0.0.1", port: 50051)])
        XCTAssertEqual(cluster.connectTimeout, .seconds(1))
        XCTAssertNil(config.cluster(named: "nope"))
        XCTAssertEqual(config.admin?.address.description, "127.0.0.1:9901")
    }

    func testDefaultsWhenKeysAreOmitted() throws {
        let config = try load("minimal.yaml")
        XCTAssertEqual(config.workers, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        XCTAssertEqual(config.logLevel, .info)
        XCTAssertEqual(config.drainTimeout, .seconds(10))
        XCTAssertEqual(config.limits.maxRequestHeadersSize, 60 * 1024)
        XCTAssertEqual(config.limits.maxHeadersCount, 100)
        XCTAssertEqual(config.limits.maxRequestBodySize, 16 * 1024 * 1024)
        XCTAssertEqual(config.limits.maxMessageSize, 4 * 1024 * 1024)
        XCTAssertEqual(config.limits.headerReadTimeout, .seconds(10))
        XCTAssertEqual(config.limits.idleTimeout, .seconds(60))
        XCTAssertEqual(config.limits.writeBufferLimit, 1024 * 1024)
        XCTAssertEqual(config.limits.maxConnections, 100_000)
        XCTAssertEqual(config.websocket.maxFrameSize, 4 * 1024 * 1024)
        XCTAssertEqual(config.websocket.maxMessageSize, 4 * 1024 * 1024)
        XCTAssertEqual(config.websocket.pingInterval, .seconds(30))
        XCTAssertEqual(config.websocket.idleTimeout, .seconds(300))
        XCTAssertFalse(config.websocket.requireOrigin)
        let cluster = config.clusters[0]
        XCTAssertEqual(cluster.loadBalancing, .roundRobin)
        XCTAssertEqual(cluster.maxConcurrentStreams, 1024)
        XCTAssertEqual(cluster.maxConnectionsPerEndpoint, 4)
        XCTAssertEqual(cluster.maxPending, 1024)
        XCTAssertEqual(cluster.keepaliveInterval, .zero)
        XCTAssertEqual(cluster.keepaliveTimeout, .seconds(20))
        XCTAssertEqual(cluster.dnsRefresh, .seconds(30))
        XCTAssertEqual(cluster.retries, 2)
        XCTAssertNil(cluster.healthCheck)
        XCTAssertEqual(cluster.outlierDetection.consecutiveFailures, 5)
        XCTAssertEqual(cluster.outlierDetection.baseEjectionTime, .seconds(30))
        XCTAssertEqual(cluster.outlierDetection.maxEjectionTime, .seconds(300))
        XCTAssertFalse(cluster.panicMode)
        XCTAssertEqual(cluster.initialStreamWindow, 1024 * 1024)
        XCTAssertEqual(cluster.initialConnectionWindow, 16 * 1024 * 1024)
    }

    func testReferenceFile() throws {
        let config = try load("reference.yaml")
        XCTAssertEqual(config.admin?.address.port, 9901, "default from ${ADMIN_PORT:-9901}")
        XCTAssertEqual(try load("reference.yaml", environment: ["ADMIN_PORT": "9902"]).admin?.address.port, 9902)
        let listener = config.listeners[0]
        XCTAssertEqual(listener.address.host, "0.0.0.0")
        XCTAssertEqual(listener.cors?.allowHeaders, ["authorization"])
        XCTAssertEqual(listener.cors?.exposeHeaders, ["x-request-id"])
        XCTAssertEqual(listener.routes.map(\.match), [
            .method("helloworld.Greeter/SayHello"), .service("helloworld.Greeter"), .prefix("/"),
        ])
        XCTAssertEqual(listener.routes[0].headers.map { "\($0.name)=\($0.value)" }, ["x-canary=true"])
        XCTAssertEqual(listener.routes[1].maxRequestBytes, 1024 * 1024)
        XCTAssertEqual(listener.routes[1].websocket, false)
        XCTAssertEqual(listener.routes[1].cors?.allowCredentials, true)
        XCTAssertEqual(listener.routes[1].cors?.allowOrigins.count, 3, "route CORS overrides one field, inherits the rest")
        XCTAssertEqual(listener.routes[2].cors?.allowCredentials, false)
        XCTAssertEqual(listener.routes[1].jwt?.provider, "example")
        XCTAssertEqual(listener.routes[1].jwt?.required, false)
        let provider = try XCTUnwrap(config.jwtProviders.first)
        XCTAssertEqual(provider.keys.keys.map(\.keyID), ["example-rsa-2026", "example-ec-2026"])
        XCTAssertEqual(provider.forwardClaims.map(\.header), ["x-user-id", "x-user-email"])
        XCTAssertEqual(provider.from, [.authorizationBearer, .cookie("session"), .metadata("x-auth")])
        XCTAssertEqual(provider.maxTokenSize, 16 * 1024)
        let greeter = try XCTUnwrap(config.cluster(named: "greeter"))
        XCTAssertEqual(greeter.endpoints.map(\.description), ["127.0.0.1:50051", "localhost:50052"])
        XCTAssertEqual(greeter.healthCheck?.interval, .seconds(5))
        XCTAssertEqual(greeter.healthCheck?.unhealthyThreshold, 3)
        XCTAssertEqual(greeter.healthCheck?.service, "")
    }

    func testMultiServiceFile() throws {
        let config = try load("multi-service.yaml")
        XCTAssertEqual(config.workers, 2)
        XCTAssertEqual(config.logLevel, .warn)
        XCTAssertEqual(config.listeners.map(\.name), ["public", "internal"])
        let internalListener = config.listeners[1]
        XCTAssertEqual(internalListener.address, SocketAddressSpec(host: "::1", port: 8081))
        XCTAssertEqual(internalListener.address.description, "[::1]:8081")
        XCTAssertFalse(internalListener.websocket)
        XCTAssertNil(internalListener.cors)
        XCTAssertNil(internalListener.routes[0].cors)
        let routes = config.listeners[0].routes
        XCTAssertEqual(routes[0].timeout, .seconds(300))
        XCTAssertEqual(routes[0].maxRequestBytes, 64 * 1024 * 1024)
        XCTAssertEqual(routes[1].headers.map(\.name), ["x-beta"])
        XCTAssertEqual(routes[1].cluster, "catalog-beta")
        XCTAssertEqual(routes[3].cors?.allowCredentials, true)
        XCTAssertEqual(routes[3].cors?.maxAge, .seconds(3600))
        XCTAssertEqual(config.cluster(named: "catalog")?.loadBalancing, .leastRequest)
        XCTAssertEqual(config.cluster(named: "catalog")?.healthCheck?.timeout, .seconds(1))
        XCTAssertEqual(config.cluster(named: "catalog-beta")?.healthCheck?.service, "shop.Catalog")
        XCTAssertEqual(config.cluster(named: "cart")?.keepaliveInterval, .seconds(30))
        XCTAssertNil(config.admin)
    }

    func testMissingFile() {
        XCTAssertThrowsError(try ConfigLoader.load(path: "/nonexistent/proxy.yaml", environment: [:])) { error in
            let error = error as? ConfigError
            XCTAssertEqual(error?.line, 0)
            XCTAssertEqual(error?.message, "cannot open: No such file or directory")
            XCTAssertEqual(error?.description, "/nonexistent/proxy.yaml: cannot open: No such file or directory")
        }
    }
}
