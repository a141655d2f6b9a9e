import Config
import XCTest

final class CIDRTests: XCTestCase {
    private func block(_ text: String) -> CIDRBlock? { CIDRBlock(parsing: text) }
    private func address(_ text: String) -> IPAddressBytes { IPAddressBytes(parsing: text)! }

    func testIPv4Blocks() throws {
        let net = try XCTUnwrap(block("10.1.2.3/8"))
        XCTAssertEqual(net.description, "10.0.0.0/8", "host bits cleared")
        XCTAssertTrue(net.contains(address("10.255.0.1")))
        XCTAssertFalse(net.contains(address("11.0.0.1")))
        XCTAssertTrue(try XCTUnwrap(block("192.168.1.0/23")).contains(address("192.168.0.200")))
        XCTAssertFalse(try XCTUnwrap(block("192.168.1.0/24")).contains(address("192.168.0.200")))
        XCTAssertTrue(try XCTUnwrap(block("0.0.0.0/0")).contains(address("203.0.113.5")))
        XCTAssertTrue(try XCTUnwrap(block("127.0.0.2")).contains(address("127.0.0.2")))
        XCTAssertFalse(try XCTUnwrap(block("127.0.0.2")).contains(address("127.0.0.3")))
        // An IPv4-mapped IPv6 peer matches the IPv4 block; a v6 block never matches a v4 address.
        XCTAssertTrue(net.contains(address("::ffff:10.0.0.9")))
        XCTAssertFalse(try XCTUnwrap(block("::/0")).contains(address("10.0.0.1")))
    }

    func testIPv6Blocks() throws {
        let net = try XCTUnwrap(block("2001:db8::/32"))
        XCTAssertTrue(net.contains(address("2001:db8:ffff::1")))
        XCTAssertFalse(net.contains(address("2001:db9::1")))
        XCTAssertTrue(try XCTUnwrap(block("fe80::/10")).contains(address("febf::1")))
        XCTAssertFalse(try XCTUnwrap(block("fe80::/10")).contains(address("fec0::1")))
        XCTAssertTrue(try XCTUnwrap(block("::1/128")).contains(address("0:0:0:0:0:0:0:1")))
        XCTAssertEqual(address("::").bytes, [UInt8](repeating: 0, count: 16))
        XCTAssertEqual(address("1::").bytes.first, 0)
        XCTAssertEqual(address("1::")[1], 1)
    }

    func testMalformedAreRefused() {
        for bad in ["", "10.0.0.0/33", "10.0.0/8", "256.0.0.0", "10.0.0.0/", "10.0.0.0/8/8", "1::2::3", "::/129",
                    "2001:db8:::1", "12345::", "1:2:3:4:5:6:7:8:9", "a.b.c.d", "10.0.0.0/-1", "::ffff:1.2.3"] {
            XCTAssertNil(block(bad), bad)
        }
    }
}

private extension IPAddressBytes {
    subscript(_ i: Int) -> UInt8 { bytes[i] }
}
