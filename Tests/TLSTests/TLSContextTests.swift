@testable import TLS
import XCTest

final class TLSContextTests: XCTestCase {
    static let certs = TestCertificates()
    var certs: TestCertificates { Self.certs }

    private func serverSettings(cert: String = "server.pem", key: String = "server.key", clientCA: String? = nil) -> TLSServerSettings {
        TLSServerSettings(certificates: [TLSCertificateFiles(cert: certs.path(cert), key: certs.path(key))],
                          clientCA: clientCA.map(certs.path))
    }

    private func expectSetupError(_ settings: TLSServerSettings, input: TLSSetupError.Input, containing text: String,
                                  file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try TLSServerContext(settings)
            XCTFail("expected a setup error", file: file, line: line)
        } catch {
            XCTAssertEqual(error.input, input, file: file, line: line)
            XCTAssertTrue(error.message.contains(text), "\"\(error.message)\" lacks \"\(text)\"", file: file, line: line)
        }
    }

    func testAValidCertificateAndKeyLoad() throws {
        let context = try TLSServerContext(serverSettings(clientCA: "ca.pem"))
        XCTAssertEqual(context.contexts.count, 1)
    }

    func testAMissingFileSaysItCannotBeRead() {
        expectSetupError(serverSettings(cert: "nope.pem"), input: .certificate(index: 0), containing: "No such file or directory")
    }

    func testAFileWithoutACertificateIsRefused() {
        expectSetupError(serverSettings(cert: "garbage.pem"), input: .certificate(index: 0), containing: "no PEM certificate")
    }

    func testAKeyThatDoesNotMatchTheCertificateIsRefused() {
        expectSetupError(serverSettings(key: "other.key"), input: .key(index: 0), containing: "does not match")
    }

    func testAnExpiredCertificateIsRefused() {
        expectSetupError(serverSettings(cert: "expired.pem", key: "expired.key"), input: .certificate(index: 0),
                         containing: "certificate expired")
    }

    func testAnUnreadableCABundleIsRefused() {
        expectSetupError(serverSettings(clientCA: "garbage.pem"), input: .caBundle, containing: "no PEM certificate")
        expectSetupError(serverSettings(clientCA: "missing-ca.pem"), input: .caBundle, containing: "No such file")
    }

    func testTheSecondCertificatesErrorsNameTheirIndex() {
        let settings = TLSServerSettings(certificates: [
            TLSCertificateFiles(cert: certs.path("server.pem"), key: certs.path("server.key")),
            TLSCertificateFiles(cert: certs.path("sni.pem"), key: certs.path("server.key")),
        ])
        expectSetupError(settings, input: .key(index: 1), containing: "does not match")
    }

    func testSNIPicksTheCertificateWhoseNamesMatch() throws {
        let context = try TLSServerContext(TLSServerSettings(certificates: [
            TLSCertificateFiles(cert: certs.path("server.pem"), key: certs.path("server.key")),
            TLSCertificateFiles(cert: certs.path("sni.pem"), key: certs.path("sni.key")),
        ]))
        XCTAssertEqual(context.certificateIndex(forServerName: "localhost"), 0)
        XCTAssertEqual(context.certificateIndex(forServerName: "B.Example.Test"), 1)
        XCTAssertEqual(context.certificateIndex(forServerName: "x.wild.example.test"), 1)
        // A wildcard covers exactly one label.
        XCTAssertEqual(context.certificateIndex(forServerName: "a.b.wild.example.test"), 0)
        XCTAssertEqual(context.certificateIndex(forServerName: "wild.example.test"), 0)
        XCTAssertEqual(context.certificateIndex(forServerName: "unknown.test"), 0)
    }

    func testWildcardNameMatching() {
        XCTAssertTrue(X509Inspection.name("*.example.com", matches: "a.example.com"))
        XCTAssertFalse(X509Inspection.name("*.example.com", matches: "example.com"))
        XCTAssertFalse(X509Inspection.name("*.example.com", matches: ".example.com"))
        XCTAssertFalse(X509Inspection.name("*.example.com", matches: "a.b.example.com"))
        XCTAssertTrue(X509Inspection.name("exact.test", matches: "exact.test"))
        XCTAssertFalse(X509Inspection.name("exact.test", matches: "other.test"))
    }

    func testALPNPicksOurFirstChoiceThatTheClientOffers() throws {
        var settings = serverSettings()
        settings.alpn = ["h2", "http/1.1"]
        let context = try TLSServerContext(settings)
        func pick(_ offered: [String]) -> String? {
            var wire: [UInt8] = []
            for name in offered { wire.append(UInt8(name.utf8.count)); wire += Array(name.utf8) }
            return wire.withUnsafeBufferPointer { list in
                context.selectALPN(clientList: list).map {
                    String(decoding: UnsafeBufferPointer(start: $0.0, count: Int($0.1)), as: UTF8.self)
                }
            }
        }
        XCTAssertEqual(pick(["http/1.1", "h2"]), "h2")
        XCTAssertEqual(pick(["http/1.1"]), "http/1.1")
        XCTAssertNil(pick(["spdy/3"]))
        XCTAssertNil(pick([]))
        // A length byte running past the end of the list is not read past.
        let truncated: [UInt8] = [9, 0x68, 0x32]
        XCTAssertNil(truncated.withUnsafeBufferPointer { context.selectALPN(clientList: $0) })
    }

    func testClientContextWithSystemTrustAndWithAClientCertificate() throws {
        _ = try TLSClientContext(TLSClientSettings())
        _ = try TLSClientContext(TLSClientSettings(caBundle: certs.path("ca.pem"),
                                                  clientCertificate: TLSCertificateFiles(cert: certs.path("client.pem"), key: certs.path("client.key"))))
        XCTAssertThrowsError(try TLSClientContext(TLSClientSettings(caBundle: certs.path("garbage.pem"))))
    }

    func testPeerCertificateFieldsForXFCC() throws {
        let pem = try PEMFile.certificates(certs.path("client.pem"), input: .caBundle)
        defer { for c in pem { X509_free_for_tests(c) } }
        let fields = TLSPeerCertificate(pem[0])
        XCTAssertEqual(fields.sha256.count, 64)
        XCTAssertEqual(fields.subject, "CN=browser-1,O=tests")
        XCTAssertEqual(fields.uris, ["spiffe://test/browser-1"])
        XCTAssertEqual(fields.dnsNames, ["client.example.test"])
    }
}
