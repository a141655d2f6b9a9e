// Route lookup cost (a benchmark, not a test): ns per `RouteTable.match` for listeners of 1, 100 and 10,000
// routes, for requests that hit a `service:`, a `method:` and a `prefix:` route. Each table holds routes of one
// kind only, and the looked-up paths cycle over every route, the last one included (the worst case for a scan).
import Config
import Glibc
import HTTP1Codec
import Proxy

private func routeBenchNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Median over 7 runs of the ns per lookup of `paths` (each run goes through the list until ~200,000 lookups).
private func nsPerLookup(_ table: RouteTable, _ paths: [String], _ headers: HTTPHeaders, sink: inout Int) -> Double {
    let rounds = max(1, 200_000 / paths.count)
    var samples: [Double] = []
    for run in 0..<8 {
        let t0 = routeBenchNow()
        for _ in 0..<rounds {
            for p in paths {
                if let r = table.match(path: p, headers: headers) { sink &+= r.cluster.utf8.count }
            }
        }
        let elapsed = Double(routeBenchNow() - t0)
        if run > 0 { samples.append(elapsed / Double(rounds * paths.count)) }  // run 0 warms up
    }
    samples.sort()
    return samples[samples.count / 2]
}

private func routeBenchFixed(_ v: Double) -> String {
    let tenths = Int((v * 10).rounded())
    return "\(tenths / 10).\(tenths % 10)"
}

func runRouteLookupBenchmark() {
    var sink = 0
    let headers = HTTPHeaders([("content-type", "application/grpc-web+proto"), ("x-grpc-web", "1")])
    for n in [1, 100, 10_000] {
        // Looked-up paths: up to 1,000 routes spread evenly, always including the last one.
        let step = max(1, n / 1000)
        var picks = Array(stride(from: 0, to: n, by: step))
        if picks.last != n - 1 { picks.append(n - 1) }

        let services = RouteTable(routes: (0..<n).map { RouteConfig(match: .service("bench.v1.Service\($0)"), cluster: "c\($0 % 7)") })
        let servicePaths = picks.map { "/bench.v1.Service\($0)/DoSomething" }

        let methods = RouteTable(routes: (0..<n).map { RouteConfig(match: .method("bench.v1.Service/Method\($0)"), cluster: "c\($0 % 7)") })
        let methodPaths = picks.map { "/bench.v1.Service/Method\($0)" }

        let prefixes = RouteTable(routes: (0..<n).map { RouteConfig(match: .prefix("/bench.v1.Area\($0)."), cluster: "c\($0 % 7)") })
        let prefixPaths = picks.map { "/bench.v1.Area\($0).Service/Method" }

        for (kind, table, paths) in [("service", services, servicePaths), ("method", methods, methodPaths), ("prefix", prefixes, prefixPaths)] {
            let ns = nsPerLookup(table, paths, headers, sink: &sink)
            let label = "route lookup, \(n) \(kind) route(s)"
            print(label + String(repeating: " ", count: max(1, 50 - label.count)) + " \(routeBenchFixed(ns)) ns/lookup")
        }
    }
    print("route lookup checksum \(sink)")
}
