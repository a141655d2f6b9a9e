@testable import Config
import XCTest

/// `jwt_providers` and routes' `jwt`: decoding, located errors, and the documentation of every key.
final class JWTConfigTests: XCTestCase {
    let exampleJWKS = repositoryConfigDirectory() + "/keys/example-jwks.json"

    func config(provider: String, route: String = "jwt: {provider: auth0}") -> String {
        """
        listeners:
          - name: web
            address: 127.0.0.1:8080
            routes:
              - prefix: /
                cluster: backend
                \(route)
        clusters:
          - name: backend
            endpoints: [127.0.0.1:50051]
        jwt_providers:
          - name: auth0
        \(provider)
        """
    }

    func testAProviderWithEveryKey() throws {
        let text = config(provider: """
                jwks_file: \(exampleJWKS)
                jwks_uri: https://issuer.example/.well-known/jwks.json
                jwks_ca: certs/ca.pem
                jwks_refresh: 1m
                issuer: https://issuer.example/
                audiences: [a, b]
                from: [{metadata: X-Auth}, authorization_bearer, {cookie: sid}]
                forward_claims: {sub: X-User-Id, realm.roles: x-roles}
                clock_skew: 0s
                cache_size: 0
                max_token_size: 4KiB
                forward_jwt: false
            """, route: "jwt: {provider: auth0, required: false}")
        let parsed = try XCTUnwrap(parseConfig(text))
        let provider = try XCTUnwrap(parsed.jwtProviders.first)
        XCTAssertEqual(provider.keys.keys.count, 2)
        XCTAssertEqual(provider.jwksURI, "https://issuer.example/.well-known/jwks.json")
        XCTAssertTrue(provider.jwksCA?.path.hasSuffix("/certs/ca.pem") ?? false)
        XCTAssertEqual(provider.jwksRefresh, .seconds(60))
        XCTAssertEqual(provider.from, [.metadata("x-auth"), .authorizationBearer, .cookie("sid")])
        XCTAssertEqual(provider.forwardClaims.map { "\($0.claim)=\($0.header)" }, ["sub=x-user-id", "realm.roles=x-roles"])
        XCTAssertEqual(provider.clockSkew, .zero)
        XCTAssertEqual(provider.cacheSize, 0)
        XCTAssertEqual(provider.maxTokenSize, 4096)
        XCTAssertFalse(provider.forwardJWT)
        XCTAssertEqual(parsed.listeners[0].routes[0].jwt?.required, false)
    }

    func testDefaults() throws {
        let parsed = try XCTUnwrap(parseConfig(config(provider: "    jwks_file: \(exampleJWKS)")))
        let provider = try XCTUnwrap(parsed.jwtProviders.first)
        XCTAssertEqual(provider.from, [.authorizationBearer])
        XCTAssertEqual(provider.clockSkew, .seconds(30))
        XCTAssertEqual(provider.cacheSize, 1000)
        XCTAssertEqual(provider.jwksRefresh, .seconds(300))
        XCTAssertTrue(provider.forwardJWT)
        XCTAssertNil(provider.issuer)
        XCTAssertEqual(parsed.listeners[0].routes[0].jwt?.required, true)
    }

    func testLocatedErrors() {
        assertConfigError(config(provider: "    issuer: x"), line: 12, column: 5, path: "jwt_providers[0].name",
                          "provider \"auth0\" needs jwks_file or jwks_uri (where its public keys are)")
        assertConfigError(config(provider: "    jwks_file: \(exampleJWKS)\n    cache_size: 2000000"), line: 14, column: 17,
                          path: "jwt_providers[0].cache_size", "must be between 0 and 1000000")
        assertConfigError(config(provider: "    jwks_file: \(exampleJWKS)\n    jwks_ca: ca.pem"), line: 14, column: 5,
                          path: "jwt_providers[0].jwks_ca", "jwks_ca needs jwks_uri (it checks that server's certificate)")
        assertConfigError(config(provider: "    jwks_file: \(exampleJWKS)\n    from: [bearer]"), line: 14, column: 12,
                          path: "jwt_providers[0].from[0]",
                          "invalid token source \"bearer\" (expected authorization_bearer)")
        assertConfigError(config(provider: "    jwks_file: \(exampleJWKS)\n    from: [{cookie: a, metadata: b}]"), line: 14, column: 12,
                          path: "jwt_providers[0].from[0]",
                          "a token source is authorization_bearer, {cookie: name} or {metadata: name}")
        assertConfigError(config(provider: "    jwks_file: \(exampleJWKS)\n    forward_claims: {sub: x-a, email: X-A}"),
                          line: 14, column: 39, path: "jwt_providers[0].forward_claims.email", "header \"x-a\" is used twice")
        assertConfigError(config(provider: "    jwks_file: \(exampleJWKS)\n    forward_claims: {sub: grpc-status}"),
                          line: 14, column: 27, path: "jwt_providers[0].forward_claims.sub",
                          "header \"grpc-status\" cannot carry a claim (reserved for the protocol)")
        assertConfigError(config(provider: "    jwks_file: missing.json"), line: 13, column: 16, path: "jwt_providers[0].jwks_file",
                          ConfigRelativePath.resolve("missing.json", configFile: "bad.yaml")
                          + ": cannot open: No such file or directory")
        assertConfigError(config(provider: "    jwks_file: \(exampleJWKS)", route: "jwt: {provider: auth1}"),
                          line: 7, column: 25, path: "listeners[0].routes[0].jwt.provider",
                          "unknown JWT provider \"auth1\"; did you mean \"auth0\"?")
        assertConfigError(config(provider: "    jwks_file: \(exampleJWKS)", route: "jwt: {provider: auth0, require: false}"),
                          line: 7, column: 32, path: "listeners[0].routes[0].jwt.require",
                          "unknown key \"require\"; did you mean \"required\"?")
        let twice = config(provider: "    jwks_file: \(exampleJWKS)\n  - name: auth0\n    jwks_file: \(exampleJWKS)")
        assertConfigError(twice, line: 14, column: 11, path: "jwt_providers[1].name", "duplicate JWT provider name \"auth0\"")
    }

    /// Every key appears in config/reference.yaml and has a row in docs/configuration.md; the commented keys of
    /// the reference (jwks_uri, jwks_ca) parse when uncommented.
    func testEveryKeyIsDocumented() throws {
        let directory = repositoryConfigDirectory()
        let reference = try String(contentsOfFile: directory + "/reference.yaml", encoding: .utf8)
        let docs = try String(contentsOfFile: directory + "/../docs/configuration.md", encoding: .utf8)
        for key in JWTProviderConfig.knownKeys {
            XCTAssertTrue(reference.contains("    \(key): ") || reference.contains("    # \(key): ")
                          || reference.contains("  - \(key): "), "reference.yaml lacks \(key)")
            XCTAssertTrue(docs.contains("| `\(key)` |"), "docs/configuration.md lacks a row for \(key)")
        }
        XCTAssertTrue(reference.contains("jwt: {provider: example"))
        XCTAssertTrue(docs.contains("| `jwt` |") && docs.contains("| `jwt_providers` |"))
        var uncommented = reference.replacingOccurrences(of: "    # jwks_uri: ", with: "    jwks_uri: ")
        uncommented = uncommented.replacingOccurrences(of: "    # jwks_ca: ", with: "    jwks_ca: ")
        let config = try ConfigLoader.parse(uncommented, file: directory + "/reference.yaml")
        XCTAssertEqual(config.jwtProviders[0].jwksURI, "https://issuer.example.com/.well-known/jwks.json")
        XCTAssertEqual(config.jwtProviders[0].jwksCA?.path, directory + "/certs/issuer-ca.pem")
    }
}
