import GRPCWebCodec
import XCTest

final class GRPCWebContentTypeTests: XCTestCase {
    func testClassifyAcceptsTheFourProtoForms() {
        XCTAssertEqual(GRPCWebContentType.classify("application/grpc-web"), .binary)
        XCTAssertEqual(GRPCWebContentType.classify("application/grpc-web+proto"), .binary)
        XCTAssertEqual(GRPCWebContentType.classify("application/grpc-web-text"), .text)
        XCTAssertEqual(GRPCWebContentType.classify("application/grpc-web-text+proto"), .text)
    }

    func testClassifyIgnoresCaseParametersAndWhitespace() {
        XCTAssertEqual(GRPCWebContentType.classify("Application/GRPC-Web+Proto"), .binary)
        XCTAssertEqual(GRPCWebContentType.classify("APPLICATION/GRPC-WEB-TEXT"), .text)
        XCTAssertEqual(GRPCWebContentType.classify("application/grpc-web+proto; charset=utf-8"), .binary)
        XCTAssertEqual(GRPCWebContentType.classify("application/grpc-web-text;x=1"), .text)
        XCTAssertEqual(GRPCWebContentType.classify("  application/grpc-web \t; a=b"), .binary)
    }

    func testClassifyRejectsEverythingElse() {
        for ct in ["", "application/grpc", "application/grpc+proto", "application/grpc-web+json",
                   "application/grpc-web-text+json", "application/grpc-web-text-base64", "application/grpc-webx",
                   "application/grpc-web+protobuf", "text/plain", "application/json", "application/grpc-we",
                   "xapplication/grpc-web", "application/grpc-web+proto,application/grpc-web"] {
            XCTAssertNil(GRPCWebContentType.classify(ct), ct)
        }
    }

    func testLooksLikeGRPCWeb() {
        XCTAssertTrue(GRPCWebContentType.looksLikeGRPCWeb("application/grpc-web+json"))
        XCTAssertTrue(GRPCWebContentType.looksLikeGRPCWeb("Application/Grpc-Web-Text-Base64"))
        XCTAssertTrue(GRPCWebContentType.looksLikeGRPCWeb("application/grpc-web"))
        XCTAssertTrue(GRPCWebContentType.looksLikeGRPCWeb(" application/grpc-web+thrift"))
        XCTAssertFalse(GRPCWebContentType.looksLikeGRPCWeb("application/grpc"))
        XCTAssertFalse(GRPCWebContentType.looksLikeGRPCWeb("application/grpc-we"))
        XCTAssertFalse(GRPCWebContentType.looksLikeGRPCWeb("text/html"))
        XCTAssertFalse(GRPCWebContentType.looksLikeGRPCWeb(""))
    }

    func testResponseEncoding() {
        typealias C = GRPCWebContentType
        XCTAssertEqual(C.responseEncoding(request: .binary, accept: nil), .binary)
        XCTAssertEqual(C.responseEncoding(request: .text, accept: nil), .text)
        XCTAssertEqual(C.responseEncoding(request: .binary, accept: "application/grpc-web-text"), .text)
        XCTAssertEqual(C.responseEncoding(request: .binary, accept: "application/grpc-web-text+proto"), .text)
        XCTAssertEqual(C.responseEncoding(request: .binary, accept: "*/*, Application/GRPC-Web-Text;q=0.9"), .text)
        XCTAssertEqual(C.responseEncoding(request: .binary, accept: "application/grpc-web+proto"), .binary)
        XCTAssertEqual(C.responseEncoding(request: .text, accept: "application/grpc-web+proto"), .text)
        XCTAssertEqual(C.responseEncoding(request: .binary, accept: "*/*"), .binary)
        XCTAssertEqual(C.responseEncoding(request: .binary, accept: ""), .binary)
        XCTAssertEqual(C.responseEncoding(request: .binary, accept: "application/grpc-web-textual"), .binary)
    }

    func testResponseContentType() {
        XCTAssertEqual(GRPCWebContentType.responseContentType(.binary), "application/grpc-web+proto")
        XCTAssertEqual(GRPCWebContentType.responseContentType(.text), "application/grpc-web-text+proto")
    }
}
