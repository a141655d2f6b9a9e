import XCTest
import Foundation
import Config

/// Issue 10, config half: `listeners[].tls` and `clusters[].tls` decoded into the TLS types, with every file
/// reference located (file, line, column, key path) and joined onto the config file's directory.
final class TLSConfigTests: XCTestCase {
    static let cwd = FileManager.default.currentDirectoryPath

    /// A listener whose `tls:` body is `lines` (written from line 5, keys at column 7).
    func listener(tls lines: [String]) -> String {
        "listeners:\n  - name: web\n    address: 127.0.0.1:8443\n    tls:\n"
            + lines.map { "      \($0)\n" }.joined()
            + "    routes: [{prefix: /, cluster: backend}]\n"
            + "clusters:\n  - name: backend\n    endpoints: [127.0.0.1:50051]\n"
    }

    /// A plain listener, then a cluster whose `tls:` body is `lines` (written from line 9, keys at column 7).
    func cluster(tls lines: [String]) -> String {
        "listeners:\n  - name: web\n    address: 127.0.0.1:8080\n    routes: [{prefix: /, cluster: backend}]\n"
            + "clusters:\n  - name: backend\n    endpoints: [api.internal:443]\n    tls:\n"
            + lines.map { "      \($0)\n" }.joined()
    }

    func inCurrentDirectory(_ path: String) -> String { Self.cwd + "/" + path }

    // MARK: Listener: good configs

    func testListenerWithoutTLSIsCleartext() throws {
        let config = try XCTUnwrap(parseConfig(cluster(tls: []).replacingOccurrences(of: "    tls:\n", with: "")))
        XCTAssertNil(config.listeners[0].tls)
        XCTAssertNil(config.clusters[0].tls)
    }

    func testListenerCertAndKeyWithDefaults() throws {
        let config = try XCTUnwrap(parseConfig(listener(tls: ["cert: certs/server.pem", "key: certs/server.key"])))
        let tls = try XCTUnwrap(config.listeners[0].tls)
        XCTAssertEqual(tls.certificates.count, 1)
        XCTAssertEqual(tls.certificates[0].cert, TLSFileReference(
            path: inCurrentDirectory("certs/server.pem"),
            location: ConfigLocation(file: "test.yaml", line: 5, column: 13, path: "listeners[0].tls.cert")))
        XCTAssertEqual(tls.certificates[0].key, TLSFileReference(
            path: inCurrentDirectory("certs/server.key"),
            location: ConfigLocation(file: "test.yaml", line: 6, column: 12, path: "listeners[0].tls.key")))
        XCTAssertNil(tls.clientCA)
        XCTAssertFalse(tls.requireClientCert)
        XCTAssertEqual(tls.minVersion, .tls12)
        XCTAssertEqual(tls.handshakeTimeout, .seconds(10))
        XCTAssertEqual(tls.location, ConfigLocation(file: "test.yaml", line: 4, column: 5, path: "listeners[0].tls"),
                       "the section's location is its tls key")
    }

    func testListenerEveryKey() throws {
        let config = try XCTUnwrap(parseConfig(listener(tls: [
            "cert: /etc/proxy/default.pem",
            "key: /etc/proxy/default.key",
            "certificates:",
            "  - {cert: certs/b.pem, key: certs/b.key}",
            "  - cert: certs/c.pem",
            "    key: certs/c.key",
            "client_ca: certs/clients-ca.pem",
            "require_client_cert: true",
            "min_version: \"1.3\"",
            "handshake_timeout: 2500ms",
        ])))
        let tls = try XCTUnwrap(config.listeners[0].tls)
        XCTAssertEqual(tls.certificates.map(\.cert.path),
                       ["/etc/proxy/default.pem", inCurrentDirectory("certs/b.pem"), inCurrentDirectory("certs/c.pem")])
        XCTAssertEqual(tls.certificates.map(\.key.path),
                       ["/etc/proxy/default.key", inCurrentDirectory("certs/b.key"), inCurrentDirectory("certs/c.key")])
        XCTAssertEqual(tls.certificates[1].key.location,
                       ConfigLocation(file: "test.yaml", line: 8, column: 36, path: "listeners[0].tls.certificates[0].key"))
        XCTAssertEqual(tls.certificates[2].key.location,
                       ConfigLocation(file: "test.yaml", line: 10, column: 16, path: "listeners[0].tls.certificates[1].key"))
        XCTAssertEqual(tls.clientCA, TLSFileReference(
            path: inCurrentDirectory("certs/clients-ca.pem"),
            location: ConfigLocation(file: "test.yaml", line: 11, column: 18, path: "listeners[0].tls.client_ca")))
        XCTAssertTrue(tls.requireClientCert)
        XCTAssertEqual(tls.minVersion, .tls13)
        XCTAssertEqual(tls.handshakeTimeout, .milliseconds(2500))
    }

    func testClientCAWithoutRequireRequestsOptionalCertificates() throws {
        let config = try XCTUnwrap(parseConfig(listener(tls: ["cert: a.pem", "key: a.key", "client_ca: ca.pem"])))
        XCTAssertEqual(config.listeners[0].tls?.clientCA?.path, inCurrentDirectory("ca.pem"))
        XCTAssertEqual(config.listeners[0].tls?.requireClientCert, false)
    }

    func testMinVersionSpellings() throws {
        for (text, expected) in [("\"1.2\"", TLSMinimumVersion.tls12), ("'1.3'", .tls13), ("1.2", .tls12), ("1.3", .tls13)] {
            let config = parseConfig(listener(tls: ["cert: a.pem", "key: a.key", "min_version: \(text)"]))
            XCTAssertEqual(config?.listeners[0].tls?.minVersion, expected, text)
        }
    }

    func testEmptyCertificatesListIsOnlyTheDefault() throws {
        let config = try XCTUnwrap(parseConfig(listener(tls: ["cert: a.pem", "key: a.key", "certificates: []"])))
        XCTAssertEqual(config.listeners[0].tls?.certificates.count, 1)
    }

    func testOneFileMayHoldCertificateAndKey() throws {
        let config = try XCTUnwrap(parseConfig(listener(tls: ["cert: both.pem", "key: both.pem"])))
        let pair = try XCTUnwrap(config.listeners[0].tls?.certificates.first)
        XCTAssertEqual(pair.cert.path, pair.key.path)
    }

    // MARK: Listener: errors

    func testListenerUnknownKeysSuggestNearest() {
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "min_versoin: \"1.3\""]),
                          line: 7, column: 7, path: "listeners[0].tls.min_versoin",
                          "unknown key \"min_versoin\"; did you mean \"min_version\"?")
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "requireClientCert: true"]),
                          line: 7, column: 7, path: "listeners[0].tls.requireClientCert",
                          "unknown key \"requireClientCert\"; did you mean \"require_client_cert\"?")
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "certificates: [{crt: b.pem, key: b.key}]"]),
                          line: 7, column: 23, path: "listeners[0].tls.certificates[0].crt",
                          "unknown key \"crt\"; did you mean \"cert\"?")
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "ciphers: ECDHE"]),
                          line: 7, column: 7, path: "listeners[0].tls.ciphers", "unknown key \"ciphers\"")
    }

    func testCertWithoutKeyAndKeyWithoutCert() {
        assertConfigError(listener(tls: ["client_ca: ca.pem", "cert: a.pem"]),
                          line: 6, column: 7, path: "listeners[0].tls.cert",
                          "cert needs key (the private key of this certificate)")
        assertConfigError(listener(tls: ["key: a.key"]),
                          line: 5, column: 7, path: "listeners[0].tls.key",
                          "key needs cert (the certificate chain this key belongs to)")
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "certificates:", "  - {cert: b.pem, key: b.key}", "  - key: c.key"]),
                          line: 9, column: 11, path: "listeners[0].tls.certificates[1].key",
                          "key needs cert (the certificate chain this key belongs to)")
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "certificates: [{cert: b.pem}]"]),
                          line: 7, column: 23, path: "listeners[0].tls.certificates[0].cert",
                          "cert needs key (the private key of this certificate)")
    }

    func testListenerTLSNeedsACertificate() {
        assertConfigError(listener(tls: ["min_version: \"1.3\""]),
                          line: 5, column: 7, path: "listeners[0].tls.cert", "missing required key \"cert\"")
        assertConfigError(listener(tls: []).replacingOccurrences(of: "tls:\n", with: "tls: {}\n"),
                          line: 4, column: 10, path: "listeners[0].tls.cert", "missing required key \"cert\"")
        assertConfigError(listener(tls: ["cert:", "key:"]),
                          line: 5, column: 12, path: "listeners[0].tls.cert", "missing value for required key \"cert\"")
    }

    func testEmptyTLSValueIsNotCleartext() {
        assertConfigError(listener(tls: []), line: 4, column: 5, path: "listeners[0].tls",
                          "tls needs a mapping: write tls: {} for TLS with every default, or remove the key for cleartext")
    }

    func testRequireClientCertNeedsClientCA() {
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "require_client_cert: true"]),
                          line: 7, column: 7, path: "listeners[0].tls.require_client_cert",
                          "require_client_cert: true needs client_ca (the CA bundle that client certificates are verified against)")
        XCTAssertNotNil(parseConfig(listener(tls: ["cert: a.pem", "key: a.key", "require_client_cert: false"])))
    }

    func testBadMinVersion() {
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "min_version: \"1.1\""]),
                          line: 7, column: 20, path: "listeners[0].tls.min_version",
                          "TLS 1.1 is not supported (deprecated by RFC 8996); min_version must be \"1.2\" or \"1.3\"")
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "min_version: 1.0"]),
                          line: 7, column: 20, path: "listeners[0].tls.min_version",
                          "TLS 1.0 is not supported (deprecated by RFC 8996); min_version must be \"1.2\" or \"1.3\"")
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "min_version: TLSv1.3"]),
                          line: 7, column: 20, path: "listeners[0].tls.min_version",
                          "invalid TLS version \"TLSv1.3\" (expected \"1.2\" or \"1.3\"); did you mean \"1.3\"?")
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "min_version: 2"]),
                          line: 7, column: 20, path: "listeners[0].tls.min_version",
                          "invalid TLS version \"2\" (expected \"1.2\" or \"1.3\")")
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "min_version: [1.2]"]),
                          line: 7, column: 20, path: "listeners[0].tls.min_version",
                          "expected a TLS version (\"1.2\" or \"1.3\"), got a sequence")
    }

    func testBadHandshakeTimeout() {
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "handshake_timeout: 0"]),
                          line: 7, column: 26, path: "listeners[0].tls.handshake_timeout", "must be greater than 0")
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "handshake_timeout: 10"]),
                          line: 7, column: 26, path: "listeners[0].tls.handshake_timeout",
                          "invalid duration \"10\" (expected a number with a unit: 250ms, 30s, 1.5s, 5m, 1h)")
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "handshake_timeout: 9000h"]),
                          line: 7, column: 26, path: "listeners[0].tls.handshake_timeout", "must be at most 8760h (365 days)")
    }

    func testBadFilePaths() {
        assertConfigError(listener(tls: ["cert: \"\"", "key: a.key"]),
                          line: 5, column: 13, path: "listeners[0].tls.cert", "must not be empty")
        assertConfigError(listener(tls: ["cert: \"a\\npem\"", "key: a.key"]),
                          line: 5, column: 13, path: "listeners[0].tls.cert", "file path contains control characters")
        assertConfigError(listener(tls: ["cert: [a.pem]", "key: a.key"]),
                          line: 5, column: 13, path: "listeners[0].tls.cert", "expected a string, got a sequence")
        assertConfigError(listener(tls: ["cert: a.pem", "key: a.key", "require_client_cert: yes", "client_ca: ca.pem"]),
                          line: 7, column: 28, path: "listeners[0].tls.require_client_cert", "expected true or false, got \"yes\"")
    }

    /// A TLS and a cleartext listener cannot share a socket either: the address check ignores `tls`.
    func testTLSAndCleartextListenerOnOneAddressConflict() {
        assertConfigError("""
            listeners:
              - name: https
                address: 127.0.0.1:8443
                tls: {cert: a.pem, key: a.key}
                routes: [{prefix: /, cluster: backend}]
              - name: http
                address: 127.0.0.1:8443
                routes: [{prefix: /, cluster: backend}]
            clusters:
              - name: backend
                endpoints: [127.0.0.1:50051]
            """, line: 7, column: 14, path: "listeners[1].address",
            "duplicate listener address 127.0.0.1:8443 (also used by listeners[0])")
        assertConfigError("""
            listeners:
              - name: http
                address: 0.0.0.0:8443
                routes: [{prefix: /, cluster: backend}]
              - name: https
                address: 127.0.0.1:8443
                tls: {cert: a.pem, key: a.key}
                routes: [{prefix: /, cluster: backend}]
            clusters:
              - name: backend
                endpoints: [127.0.0.1:50051]
            """, line: 6, column: 14, path: "listeners[1].address",
            "listener address 127.0.0.1:8443 overlaps 0.0.0.0:8443 of listeners[0]: 0.0.0.0 listens on every IPv4 address, 127.0.0.1 included")
    }

    // MARK: Cluster

    func testClusterEmptyTLSMeansDefaults() throws {
        let text = cluster(tls: []).replacingOccurrences(of: "    tls:\n", with: "    tls: {}\n")
        let tls = try XCTUnwrap(parseConfig(text)?.clusters[0].tls)
        XCTAssertEqual(tls, UpstreamTLSConfig(location: ConfigLocation(file: "test.yaml", line: 8, column: 5, path: "clusters[0].tls")))
        XCTAssertNil(tls.ca, "system trust store")
        XCTAssertNil(tls.serverName, "each endpoint's host")
        XCTAssertNil(tls.clientCertificate)
        XCTAssertTrue(tls.verify)
    }

    func testClusterEveryKey() throws {
        let config = try XCTUnwrap(parseConfig(cluster(tls: [
            "ca: certs/ca.pem", "server_name: api.internal", "cert: certs/client.pem", "key: certs/client.key", "verify: true",
        ])))
        let tls = try XCTUnwrap(config.clusters[0].tls)
        XCTAssertEqual(tls.ca, TLSFileReference(
            path: inCurrentDirectory("certs/ca.pem"),
            location: ConfigLocation(file: "test.yaml", line: 9, column: 11, path: "clusters[0].tls.ca")))
        XCTAssertEqual(tls.serverName, "api.internal")
        XCTAssertEqual(tls.clientCertificate?.cert.path, inCurrentDirectory("certs/client.pem"))
        XCTAssertEqual(tls.clientCertificate?.key.location,
                       ConfigLocation(file: "test.yaml", line: 12, column: 12, path: "clusters[0].tls.key"))
        XCTAssertTrue(tls.verify)
        XCTAssertEqual(config.listeners[0].tls, nil)
    }

    func testClusterVerifyFalseAndIPServerName() throws {
        let config = try XCTUnwrap(parseConfig(cluster(tls: ["verify: false", "server_name: \"::1\""])))
        XCTAssertEqual(config.clusters[0].tls?.verify, false)
        XCTAssertEqual(config.clusters[0].tls?.serverName, "::1")
        XCTAssertEqual(parseConfig(cluster(tls: ["server_name: 10.0.0.7"]))?.clusters[0].tls?.serverName, "10.0.0.7")
    }

    func testClusterErrors() {
        assertConfigError(cluster(tls: ["verify_peer: false"]), line: 9, column: 7, path: "clusters[0].tls.verify_peer",
                          "unknown key \"verify_peer\"; did you mean \"verify\"?")
        assertConfigError(cluster(tls: ["ca_file: ca.pem"]), line: 9, column: 7, path: "clusters[0].tls.ca_file",
                          "unknown key \"ca_file\"")
        assertConfigError(cluster(tls: ["cert: client.pem"]), line: 9, column: 7, path: "clusters[0].tls.cert",
                          "cert needs key (the private key of this certificate)")
        assertConfigError(cluster(tls: ["ca: ca.pem", "key: client.key"]), line: 10, column: 7, path: "clusters[0].tls.key",
                          "key needs cert (the certificate chain this key belongs to)")
        assertConfigError(cluster(tls: []), line: 8, column: 5, path: "clusters[0].tls",
                          "tls needs a mapping: write tls: {} for TLS with every default, or remove the key for cleartext")
        assertConfigError(cluster(tls: ["verify: no"]), line: 9, column: 15, path: "clusters[0].tls.verify",
                          "expected true or false, got \"no\"")
        assertConfigError(cluster(tls: []).replacingOccurrences(of: "    tls:\n", with: "    tls: true\n"),
                          line: 8, column: 10, path: "clusters[0].tls", "expected a mapping, got a string")
    }

    func testBadServerName() {
        assertConfigError(cluster(tls: ["server_name: \"\""]), line: 9, column: 20, path: "clusters[0].tls.server_name",
                          "must not be empty (leave server_name out to use each endpoint's host)")
        assertConfigError(cluster(tls: ["server_name:"]), line: 9, column: 19, path: "clusters[0].tls.server_name",
                          "must not be empty (leave server_name out to use each endpoint's host)")
        assertConfigError(cluster(tls: ["server_name: api.internal:443"]), line: 9, column: 20, path: "clusters[0].tls.server_name",
                          "invalid server_name \"api.internal:443\": the name only, without a port")
        assertConfigError(cluster(tls: ["server_name: https://api.internal"]), line: 9, column: 20, path: "clusters[0].tls.server_name",
                          "invalid server_name \"https://api.internal\": expected a host name such as api.internal, without scheme, path or spaces")
        assertConfigError(cluster(tls: ["server_name: \"api internal\""]), line: 9, column: 20, path: "clusters[0].tls.server_name",
                          "invalid server_name \"api internal\": expected a host name such as api.internal, without scheme, path or spaces")
    }

    // MARK: Locations for errors found after decoding

    func testLocationFormatsAsAConfigError() throws {
        let config = try XCTUnwrap(parseConfig(listener(tls: ["cert: a.pem", "key: a.key"])))
        let cert = try XCTUnwrap(config.listeners[0].tls?.certificates[0].cert)
        XCTAssertEqual(cert.location.error("no such file").description, "test.yaml:5:13: listeners[0].tls.cert: no such file")
    }

    // MARK: Relative paths

    func testRelativePathsFollowTheConfigFile() throws {
        let directory = NSTemporaryDirectory() + "tls-config-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory + "/etc", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/etc/proxy.yaml"
        try listener(tls: [
            "cert: certs/server.pem", "key: ./certs//server.key", "client_ca: ../shared/ca.pem", "certificates: [{cert: /abs/b.pem, key: b.key}]",
        ]).write(toFile: file, atomically: true, encoding: .utf8)
        let tls = try XCTUnwrap(try ConfigLoader.load(path: file, environment: [:]).listeners[0].tls)
        XCTAssertEqual(tls.certificates[0].cert.path, directory + "/etc/certs/server.pem")
        XCTAssertEqual(tls.certificates[0].key.path, directory + "/etc/certs/server.key", "./ and // are tidied")
        XCTAssertEqual(tls.clientCA?.path, directory + "/etc/../shared/ca.pem", ".. is kept (a symlinked directory makes it more than text)")
        XCTAssertEqual(tls.certificates[1].cert.path, "/abs/b.pem", "absolute paths are kept")
        XCTAssertEqual(tls.certificates[1].key.path, directory + "/etc/b.key")
        XCTAssertEqual(tls.certificates[0].cert.location.file, file)
    }

    func testRelativeConfigFileNameIsTakenFromTheCurrentDirectory() throws {
        let config = try ConfigLoader.parse(listener(tls: ["cert: certs/a.pem", "key: /k.pem"]), file: "deploy/proxy.yaml")
        XCTAssertEqual(config.listeners[0].tls?.certificates[0].cert.path, inCurrentDirectory("deploy/certs/a.pem"))
        let root = try ConfigLoader.parse(listener(tls: ["cert: a.pem", "key: k.pem"]), file: "/proxy.yaml")
        XCTAssertEqual(root.listeners[0].tls?.certificates[0].cert.path, "/a.pem")
    }
}
