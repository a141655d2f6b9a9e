@testable import Proxy
import Config
import JSON
import TLS
import XCTest

/// The JWT stage's pure parts: where tokens are found, how claims are flattened, and the bounded cache.
final class JWTStagePartsTests: XCTestCase {
    func testBearerTokens() {
        XCTAssertEqual(JWTTokenExtraction.bearerToken("Bearer abc.def.ghi"), "abc.def.ghi")
        XCTAssertEqual(JWTTokenExtraction.bearerToken("bearer   abc"), "abc", "scheme case-insensitive, spaces skipped")
        XCTAssertNil(JWTTokenExtraction.bearerToken("Basic dXNlcjpwYXNz"))
        XCTAssertNil(JWTTokenExtraction.bearerToken("Bearer "))
        XCTAssertNil(JWTTokenExtraction.bearerToken("Bearerabc.def"))
    }

    func testCookies() {
        XCTAssertEqual(JWTTokenExtraction.cookie("session", in: "theme=dark; session=a.b.c; x=1"), "a.b.c")
        XCTAssertEqual(JWTTokenExtraction.cookie("session", in: "session=\"a.b.c\""), "a.b.c")
        XCTAssertNil(JWTTokenExtraction.cookie("session", in: "my_session=a.b.c; sessions=x"))
        XCTAssertNil(JWTTokenExtraction.cookie("session", in: "session="))
        XCTAssertNil(JWTTokenExtraction.cookie("session", in: "garbage"))
    }

    func testClaimsAreFlattened() throws {
        guard case .object(let members) = try JSONParser.parse(
            #"{"sub":"u1","exp":1700000000,"admin":true,"roles":["a","b"],"realm":{"roles":["x"],"level":2},"mixed":[1,{"a":1}],"none":null}"#)
        else { return XCTFail() }
        let claims = JWTClaims.flatten(members)
        XCTAssertEqual(claims["sub"], "u1")
        XCTAssertEqual(claims["exp"], "1700000000")
        XCTAssertEqual(claims["admin"], "true")
        XCTAssertEqual(claims["roles"], "a,b")
        XCTAssertEqual(claims["realm.roles"], "x")
        XCTAssertEqual(claims["realm.level"], "2")
        XCTAssertNil(claims["mixed"], "an array holding an object has no string form")
        XCTAssertNil(claims["none"])
        let many = (0..<1000).map { ("c\($0)", JSONValue.string("v")) }
        XCTAssertEqual(JWTClaims.flatten(many).count, JWTClaims.maxClaims)
    }

    func testClaimValuesWithControlCharactersAreNotHeaderValues() {
        XCTAssertTrue(JWTVerifier.isHeaderValue("user 42\twith tab"))
        XCTAssertFalse(JWTVerifier.isHeaderValue("evil\r\nx-admin: 1"))
    }

    func entry(_ sub: String, expiresAt: Double = .infinity) -> JWTVerifiedToken {
        JWTVerifiedToken(claims: ["sub": sub], edits: [.set("x-user-id", sub)], expiresAt: expiresAt)
    }

    func testTheCacheIsBoundedAndEvictsTheOldest() {
        var cache = JWTTokenCache(capacity: 3)
        for i in 0..<10 { cache.insert(Substring("t\(i)"), entry("u\(i)")) }
        XCTAssertEqual(cache.count, 3)
        XCTAssertNil(cache.lookup("t6", now: 0))
        for i in 7..<10 { XCTAssertEqual(cache.lookup(Substring("t\(i)"), now: 0)?.claims["sub"], "u\(i)") }
        cache.insert("t7", entry("again"))
        XCTAssertEqual(cache.count, 3, "re-inserting a cached token takes no new slot")
    }

    func testTheCacheHonoursExpiry() {
        var cache = JWTTokenCache(capacity: 10)
        cache.insert("t", entry("u", expiresAt: 100))
        XCTAssertNotNil(cache.lookup("t", now: 99.9))
        XCTAssertNil(cache.lookup("t", now: 100))
        XCTAssertEqual(cache.count, 0, "an expired entry is dropped when met")
    }

    func testACacheOfSizeZeroKeepsNothing() {
        var cache = JWTTokenCache(capacity: 0)
        cache.insert("t", entry("u"))
        XCTAssertEqual(cache.count, 0)
        XCTAssertNil(cache.lookup("t", now: 0))
    }

    func testHTTPSURLs() {
        XCTAssertEqual(HTTPSURL("https://issuer.example/.well-known/jwks.json"),
                       HTTPSURL(host: "issuer.example", port: 443, path: "/.well-known/jwks.json"))
        XCTAssertEqual(HTTPSURL("https://127.0.0.1:8443"), HTTPSURL(host: "127.0.0.1", port: 8443, path: "/"))
        XCTAssertEqual(HTTPSURL("https://[::1]:9/k?x=1#frag"), HTTPSURL(host: "::1", port: 9, path: "/k?x=1"))
        XCTAssertEqual(HTTPSURL("https://[::1]/k")?.hostForHeader, "[::1]")
        for bad in ["http://a/", "https://", "https://a:0/", "https://a:99999/", "https://user@a/", "https://[::1/"] {
            XCTAssertNil(HTTPSURL(bad), bad)
        }
    }
}

/// How a provider's `jwks_file` keys and the keys fetched from its `jwks_uri` combine.
final class JWTKeyMergeTests: XCTestCase {
    func key(_ id: String) throws -> JWTKey {
        JWTKey(keyID: id, algorithm: nil, key: try SignaturePublicKey(ed25519: [UInt8](repeating: 9, count: 32)))
    }

    func testFileAndFetchedKeysCombineWithTheFileWinningAKeyID() throws {
        var provider = JWTProviderConfig(name: "p")
        provider.jwksURI = "https://issuer.example/jwks"
        XCTAssertNil(JWTStage.merged(provider, fetched: nil), "URI only, nothing fetched yet: no key set")
        let fetched = JWTKeySet(keys: [try key("shared"), try key("remote")])
        XCTAssertEqual(JWTStage.merged(provider, fetched: fetched)?.keys.map(\.keyID), ["shared", "remote"])
        provider.jwksFile = TLSFileReference(path: "/k.json", location: ConfigLocation(file: "c", line: 1, column: 1, path: "p"))
        let fileKey = try key("shared")
        provider.keys = JWTKeySet(keys: [fileKey, try key("local")])
        XCTAssertEqual(JWTStage.merged(provider, fetched: nil)?.keys.map(\.keyID), ["shared", "local"])
        let merged = try XCTUnwrap(JWTStage.merged(provider, fetched: fetched))
        XCTAssertEqual(merged.keys.map(\.keyID), ["shared", "local", "remote"])
        XCTAssertTrue(merged.keys[0].key === fileKey.key, "the file's key wins a kid both have")
    }
}
