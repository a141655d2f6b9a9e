@testable import Proxy
import XCTest

final class NativeGRPCContentTypeTests: XCTestCase {
    func testNativeForms() {
        for type in ["application/grpc", "application/grpc+proto", "application/grpc+json", "Application/GRPC",
                     "application/grpc; charset=utf-8", " application/grpc+proto"] {
            XCTAssertTrue(NativeGRPCContentType.matches(type), type)
        }
    }

    func testOtherTypes() {
        for type in ["application/grpc-web", "application/grpc-web+proto", "application/grpc-web-text", "application/grpcx",
                     "application/json", "", "application/grp", "text/plain"] {
            XCTAssertFalse(NativeGRPCContentType.matches(type), type)
        }
    }

    func testPathWithoutQuery() {
        XCTAssertEqual(DownstreamHTTP2Stream.pathWithoutQuery("/pkg.Svc/M"), "/pkg.Svc/M")
        XCTAssertEqual(DownstreamHTTP2Stream.pathWithoutQuery("/pkg.Svc/M?x=1"), "/pkg.Svc/M")
        XCTAssertEqual(DownstreamHTTP2Stream.pathWithoutQuery(""), "")
    }
}
