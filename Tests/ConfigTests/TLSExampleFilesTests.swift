import XCTest
import Foundation
@testable import Config

/// config/tls.yaml, and the TLS keys documented (commented out) in config/reference.yaml and docs/configuration.md.
final class TLSExampleFilesTests: XCTestCase {
    func testTLSExampleFile() throws {
        let directory = repositoryConfigDirectory()
        let config = try ConfigLoader.load(path: directory + "/tls.yaml", environment: [:])
        let tls = try XCTUnwrap(config.listeners[0].tls)
        XCTAssertEqual(tls.certificates.map(\.cert.path), [directory + "/certs/server.pem"],
                       "relative to config/, not to the test's current directory")
        XCTAssertEqual(tls.certificates[0].key.path, directory + "/certs/server.key")
        XCTAssertEqual(tls.certificates[0].cert.location.path, "listeners[0].tls.cert")
        XCTAssertEqual(tls.certificates[0].cert.location.file, directory + "/tls.yaml")
        XCTAssertEqual(tls.minVersion, .tls12)
        XCTAssertEqual(tls.handshakeTimeout, .seconds(10))
        XCTAssertNil(tls.clientCA)
        let upstream = try XCTUnwrap(config.cluster(named: "backend")?.tls)
        XCTAssertEqual(upstream.ca?.path, directory + "/certs/server.pem")
        XCTAssertEqual(upstream.serverName, "localhost")
        XCTAssertNil(upstream.clientCertificate)
        XCTAssertTrue(upstream.verify)
    }

    /// reference.yaml runs without certificate files, so its `tls:` sections are commented out; uncommented, they
    /// must decode (and say what they claim).
    func testReferenceFileTLSBlocksDecodeWhenUncommented() throws {
        let directory = repositoryConfigDirectory()
        let text = try String(contentsOfFile: directory + "/reference.yaml", encoding: .utf8)
        let (uncommented, blocks) = Self.uncommentTLSBlocks(text)
        XCTAssertEqual(blocks, 2, "one commented tls block for the listener, one for a cluster")
        let config = try ConfigLoader.parse(uncommented, file: directory + "/reference.yaml")
        let tls = try XCTUnwrap(config.listeners[0].tls)
        XCTAssertEqual(tls.certificates.map(\.cert.path), [directory + "/certs/server.pem", directory + "/certs/other.pem"])
        XCTAssertEqual(tls.clientCA?.path, directory + "/certs/clients-ca.pem")
        XCTAssertEqual(tls.requireClientCert, false)
        XCTAssertEqual(tls.minVersion, .tls12)
        XCTAssertEqual(tls.handshakeTimeout, .seconds(10))
        let upstream = try XCTUnwrap(config.cluster(named: "greeter")?.tls)
        XCTAssertEqual(upstream.ca?.path, directory + "/certs/ca.pem")
        XCTAssertEqual(upstream.serverName, "api.internal")
        XCTAssertEqual(upstream.clientCertificate?.key.path, directory + "/certs/client.key")
        XCTAssertTrue(upstream.verify)
    }

    func testEveryTLSKeyIsDocumented() throws {
        let reference = try String(contentsOfFile: repositoryConfigDirectory() + "/reference.yaml", encoding: .utf8)
        let docs = try String(contentsOfFile: repositoryConfigDirectory() + "/../docs/configuration.md", encoding: .utf8)
        for key in DownstreamTLSConfig.knownKeys + UpstreamTLSConfig.knownKeys + TLSCertificatePair.knownKeys {
            XCTAssertTrue(reference.contains("#   \(key): ") || reference.contains("#   \(key):\n"), "reference.yaml lacks \(key)")
            XCTAssertTrue(docs.contains("| `\(key)` |"), "docs/configuration.md lacks a row for \(key)")
        }
        for fact in ["x-forwarded-client-cert", "SIGHUP", "http/1.1", "AEAD", "relative to the directory", "grpcwebproxy_upstream_tls_verify_disabled"] {
            XCTAssertTrue(docs.contains(fact), "docs/configuration.md does not mention \(fact)")
            XCTAssertTrue(reference.contains(fact), "reference.yaml does not mention \(fact)")
        }
    }

    /// Turns `<indent># tls:` and the deeper `<indent>#   ...` lines after it into YAML by removing one "# ".
    static func uncommentTLSBlocks(_ text: String) -> (String, Int) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var blocks = 0
        var index = 0
        while index < lines.count {
            let line = lines[index]
            let indent = String(line.prefix { $0 == " " })
            guard line == indent + "# tls:" else { index += 1; continue }
            blocks += 1
            lines[index] = indent + "tls:"
            index += 1
            while index < lines.count, lines[index].hasPrefix(indent + "#   ") {
                lines[index] = indent + lines[index].dropFirst(indent.count + 2)
                index += 1
            }
        }
        return (lines.joined(separator: "\n"), blocks)
    }
}
