import GRPCWebCodec
import XCTest

final class GRPCStatusCodeTests: XCTestCase {
    func testRawValues() {
        XCTAssertEqual(GRPCStatusCode.ok.rawValue, 0)
        XCTAssertEqual(GRPCStatusCode.resourceExhausted.rawValue, 8)
        XCTAssertEqual(GRPCStatusCode.internalError.rawValue, 13)
        XCTAssertEqual(GRPCStatusCode.unavailable.rawValue, 14)
        XCTAssertEqual(GRPCStatusCode.unauthenticated.rawValue, 16)
    }

    func testHTTPStatusTable() {
        let table: [(Int, GRPCStatusCode)] = [
            (200, .unknown), (400, .internalError), (401, .unauthenticated), (403, .permissionDenied),
            (404, .unimplemented), (409, .unknown), (412, .unknown), (429, .unavailable), (431, .internalError),
            (499, .unknown), (500, .unknown), (501, .unknown), (502, .unavailable), (503, .unavailable),
            (504, .unavailable), (0, .unknown), (100, .unknown), (302, .unknown), (418, .unknown), (599, .unknown),
        ]
        for (http, grpc) in table { XCTAssertEqual(GRPCStatusCode.fromHTTPStatus(http), grpc, "\(http)") }
    }

    func testHTTP2ErrorCodeTable() {
        let table: [(UInt32, GRPCStatusCode)] = [
            (0, .internalError), (1, .internalError), (2, .internalError), (3, .internalError), (4, .internalError),
            (5, .internalError), (6, .internalError), (7, .unavailable), (8, .cancelled), (9, .internalError),
            (10, .internalError), (11, .resourceExhausted), (12, .permissionDenied), (13, .internalError),
            (14, .unknown), (0xFFFF_FFFF, .unknown),
        ]
        for (code, grpc) in table { XCTAssertEqual(GRPCStatusCode.fromHTTP2ErrorCode(code), grpc, "\(code)") }
    }

    func testNamesAndParse() {
        XCTAssertEqual(GRPCStatusCode.internalError.name, "INTERNAL")
        XCTAssertEqual(GRPCStatusCode.deadlineExceeded.name, "DEADLINE_EXCEEDED")
        XCTAssertEqual(GRPCStatusCode.parse("0"), .ok)
        XCTAssertEqual(GRPCStatusCode.parse("14"), .unavailable)
        XCTAssertEqual(GRPCStatusCode.parse("16"), .unauthenticated)
        XCTAssertEqual(GRPCStatusCode.parse("17"), .unknown)
        XCTAssertEqual(GRPCStatusCode.parse("99999999999999999999"), .unknown)
        XCTAssertNil(GRPCStatusCode.parse(""))
        XCTAssertNil(GRPCStatusCode.parse("-1"))
        XCTAssertNil(GRPCStatusCode.parse(" 1"))
        XCTAssertNil(GRPCStatusCode.parse("OK"))
    }
}
