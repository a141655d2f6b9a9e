import Config
import HTTP1Codec
@testable import Proxy
import XCTest

/// The compiled route table must agree with the obvious definition: the first route, in config order, whose
/// match and header conditions hold.
final class RouteTableTests: XCTestCase {
    private func reference(_ routes: [RouteConfig], path: String, headers: HTTPHeaders) -> Int? {
        let (service, method) = RouteTable.split(path)
        for (i, r) in routes.enumerated() {
            let matches: Bool
            switch r.match {
            case .prefix(let p): matches = path.hasPrefix(p)
            case .service(let s): matches = service.map(String.init) == s
            case .method(let m): matches = method.map(String.init) == m
            }
            if matches && r.headers.allSatisfy({ headers[$0.name] == $0.value }) { return i }
        }
        return nil
    }

    private func check(_ path: String, _ service: String?, _ method: String?, line: UInt = #line) {
        let (s, m) = RouteTable.split(path)
        XCTAssertEqual(s.map(String.init), service, path, line: line)
        XCTAssertEqual(m.map(String.init), method, path, line: line)
    }

    func testSplitsServiceAndMethod() {
        check("/pkg.Svc/Method", "pkg.Svc", "pkg.Svc/Method")
        check("/pkg.Svc/", "pkg.Svc", nil)
        check("/pkg.Svc/A/B", "pkg.Svc", nil)
        check("/pkg.Svc", nil, nil)
        check("//M", nil, nil)
        check("no-slash", nil, nil)
        check("/é.Svc/Mé", "é.Svc", "é.Svc/Mé")
    }

    func testFirstMatchWinsAcrossKinds() {
        let routes = [
            RouteConfig(match: .method("a.S/M"), headers: [("x-t", "1")], cluster: "c0"),
            RouteConfig(match: .service("a.S"), cluster: "c1"),
            RouteConfig(match: .prefix("/a."), cluster: "c2"),
            RouteConfig(match: .method("a.S/M"), cluster: "c3"),
            RouteConfig(match: .prefix("/"), cluster: "c4"),
        ]
        let table = RouteTable(routes: routes)
        XCTAssertEqual(table.match(path: "/a.S/M", headers: HTTPHeaders([("X-T", "1")]))?.cluster, "c0")
        XCTAssertEqual(table.match(path: "/a.S/M", headers: HTTPHeaders())?.cluster, "c1")
        XCTAssertEqual(table.match(path: "/a.Other/M", headers: HTTPHeaders())?.cluster, "c2")
        XCTAssertEqual(table.match(path: "/b.S/M", headers: HTTPHeaders())?.cluster, "c4")
        XCTAssertNil(RouteTable(routes: Array(routes.prefix(3))).match(path: "/b.S/M", headers: HTTPHeaders()))
    }

    func testRandomTablesAgreeWithTheLinearDefinition() {
        var rng = SplitMix(seed: 7)
        let services = ["a.S", "a.T", "b.S", "x.Y"]
        let methods = ["M", "N", "O"]
        let prefixes = ["/", "/a", "/a.", "/a.S/", "/b", "/x.Y/M", "/zz"]
        for _ in 0..<300 {
            var routes: [RouteConfig] = []
            for i in 0..<(1 + rng.next(12)) {
                let headers: [(name: String, value: String)] = rng.next(3) == 0 ? [("x-tenant", rng.next(2) == 0 ? "a" : "b")] : []
                let kind: RouteMatchKind
                switch rng.next(3) {
                case 0: kind = .prefix(prefixes[rng.next(prefixes.count)])
                case 1: kind = .service(services[rng.next(services.count)])
                default: kind = .method(services[rng.next(services.count)] + "/" + methods[rng.next(methods.count)])
                }
                routes.append(RouteConfig(match: kind, headers: headers, cluster: "c\(i)"))
            }
            let table = RouteTable(routes: routes)
            for _ in 0..<20 {
                let path = "/" + services[rng.next(services.count)] + "/" + methods[rng.next(methods.count)]
                var headers = HTTPHeaders()
                if rng.next(2) == 0 { headers.add(name: "X-Tenant", value: rng.next(2) == 0 ? "a" : "b") }
                let want = reference(routes, path: path, headers: headers).map { routes[$0].cluster }
                XCTAssertEqual(table.match(path: path, headers: headers)?.cluster, want, "\(path) \(headers.fields)")
            }
        }
    }
}

/// Seeded generator so failures replay.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
