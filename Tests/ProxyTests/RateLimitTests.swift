@testable import Proxy
import Config
import HTTP1Codec
import XCTest

/// Token bucket arithmetic on a fake clock (`now` passed in), the key table's cap, concurrency slots, claim
/// keys, and the stage's refusals.
final class RateLimitTests: XCTestCase {
    private let second: Int64 = 1_000_000_000

    func testBucketAllowsBurstThenOneTokenPerInterval() {
        // 2/s with burst 4: 4 at once, then one every 500 ms.
        let rule = TokenBucketRule(interval: second / 2, capacity: 4)
        var fullAt: Int64 = 0
        let t0: Int64 = 100 * second
        for _ in 0..<4 { XCTAssertNil(rule.take(&fullAt, now: t0)) }
        XCTAssertEqual(rule.take(&fullAt, now: t0), second / 2, "the next token is one interval away")
        XCTAssertEqual(rule.take(&fullAt, now: t0 + second / 4), second / 4)
        XCTAssertNil(rule.take(&fullAt, now: t0 + second / 2))
        XCTAssertNotNil(rule.take(&fullAt, now: t0 + second / 2))
        // Idle for a long time: the bucket holds `capacity` tokens, not more.
        let later = t0 + 3600 * second
        for _ in 0..<4 { XCTAssertNil(rule.take(&fullAt, now: later)) }
        XCTAssertNotNil(rule.take(&fullAt, now: later))
    }

    func testExactlyRateTokensPerWindowAtSteadyState() {
        let rule = TokenBucketRule(interval: 60 * second / 10, capacity: 10)
        var fullAt: Int64 = 0
        var allowed = 0
        // One attempt every 100 ms for 10 minutes: the burst, then exactly 10 per minute.
        var now: Int64 = second
        while now < second + 600 * second {
            if rule.take(&fullAt, now: now) == nil { allowed += 1 }
            now += second / 10
        }
        XCTAssertEqual(allowed, 10 + 100 - 1)
    }

    func testTableEvictsFullBucketsThenSharesAnOverflowBucket() {
        let table = RateLimitTable(rule: TokenBucketRule(interval: second, capacity: 1), maxKeys: 2)
        let t0: Int64 = 10 * second
        XCTAssertEqual(table.take("a", now: t0), .allowed)
        XCTAssertEqual(table.take("b", now: t0), .allowed)
        // Full and neither bucket idle: "c" and "d" share the overflow bucket.
        XCTAssertEqual(table.take("c", now: t0), .allowed)
        XCTAssertEqual(table.take("d", now: t0), .refused(retryAfterNanos: second, overflow: true))
        XCTAssertEqual(table.keyCount, 2)
        // "a" keeps its own bucket.
        XCTAssertEqual(table.take("a", now: t0), .refused(retryAfterNanos: second, overflow: false))
        // A second later both buckets are full again: evicting them loses nothing, "d" gets its own.
        XCTAssertEqual(table.take("d", now: t0 + second), .allowed)
        XCTAssertEqual(table.keyCount, 1)
    }

    func testLongKeysAreStoredAsAHash() {
        let long = String(repeating: "k", count: 5000)
        XCTAssertEqual(RateLimitTable.storedKey("short"), "short")
        XCTAssertTrue(RateLimitTable.storedKey(long).hasPrefix("#"))
        XCTAssertLessThan(RateLimitTable.storedKey(long).utf8.count, 32)
        XCTAssertNotEqual(RateLimitTable.storedKey(long), RateLimitTable.storedKey(long + "x"))
    }

    func testConcurrencySlotsPerRouteAndPerClient() {
        let counter = ConcurrencyCounter(maxCalls: 3, maxPerClient: 2, maxKeys: 1)
        guard case .success(let a1) = counter.acquire(client: "a"), case .success(let a2) = counter.acquire(client: "a") else {
            return XCTFail("two slots for a")
        }
        XCTAssertEqual(counter.acquire(client: "a").failureWhich, .client)
        // The table holds one client: "b" is counted in the overflow slot count.
        guard case .success(let b1) = counter.acquire(client: "b") else { return XCTFail("b") }
        XCTAssertEqual(counter.acquire(client: "c").failureWhich, .route)
        XCTAssertEqual(counter.inFlight, 3)
        counter.release(a1)
        counter.release(a2)
        XCTAssertEqual(counter.clientKeyCount, 0, "a client with nothing in flight is forgotten")
        counter.release(b1)
        XCTAssertEqual(counter.inFlight, 0)
    }

    // MARK: The stage

    private func request(route: RouteConfig, headers: [(String, String)] = [], address: String = "192.0.2.1:5000") -> EdgeCallRequest {
        let head = HTTPRequestHead(method: "POST", target: "/a.B/C", path: "/a.B/C", versionMinor: 1,
                                   headers: HTTPHeaders(headers), keepAlive: true, isUpgrade: false, bodyKind: .none)
        return EdgeCallRequest(route: route, listenerName: "web", head: head, webSocketMetadata: nil,
                               downstreamAddress: address, downstreamHost: EdgeCallRequest.host(of: address), secure: false)
    }

    private func route(_ limits: RouteLimits) -> RouteConfig {
        var route = RouteConfig(match: .prefix("/"), cluster: "backend")
        route.name = "r"
        route.limits = limits
        return route
    }

    func testClaimKeysCountEachSubjectSeparately() {
        let rule = RateLimitRule(key: .claim("sub"), rate: LimitRate(count: 1, period: .seconds(60), text: "1/m"))
        let limits = RouteLimits(id: "unit.claims", rateLimits: [rule])
        let limiter = RouteLimiter(config: limits)
        let stage = RateLimitStage(config: ProxyConfig())
        let req = request(route: route(limits))
        func attempt(_ sub: String?) -> EdgeRejection? {
            var grant = EdgeCallGrant()
            if let sub { grant.claims["sub"] = sub }
            return stage.evaluate(req, limiter: limiter, grant: &grant, now: 5 * second)
        }
        XCTAssertNil(attempt("alice"))
        XCTAssertNil(attempt("bob"))
        let refused = attempt("alice")
        XCTAssertEqual(refused?.code, .resourceExhausted)
        XCTAssertEqual(refused?.stage, "rate_limit")
        XCTAssertEqual(refused?.reason, "tokens")
        XCTAssertEqual(refused?.message, "rate limit exceeded: 1/m per claim sub (burst 1) on route \"r\"; retry in 60000 ms")
        XCTAssertEqual(refused?.metadata.map { "\($0.0)=\($0.1)" }, ["retry-after=60", "grpc-retry-pushback-ms=60000"])
        // Anonymous calls share one bucket.
        XCTAssertNil(attempt(nil))
        XCTAssertNotNil(attempt(nil))
    }

    func testAConcurrencySlotIsReleasedWhenTheCallEndsOrARateLimitRefuses() {
        let rule = RateLimitRule(key: .route, rate: LimitRate(count: 1, period: .seconds(60), text: "1/m"))
        let limits = RouteLimits(id: "unit.both", rateLimits: [rule], concurrency: ConcurrencyLimitConfig(maxCalls: 1))
        let limiter = RouteLimiter(config: limits)
        let stage = RateLimitStage(config: ProxyConfig())
        let req = request(route: route(limits))
        var first = EdgeCallGrant()
        XCTAssertNil(stage.evaluate(req, limiter: limiter, grant: &first, now: second))
        var second = EdgeCallGrant()
        XCTAssertEqual(stage.evaluate(req, limiter: limiter, grant: &second, now: self.second)?.stage, "concurrency")
        first.finish()
        XCTAssertEqual(limiter.concurrency?.inFlight, 0)
        // Refused by the rate limit: the slot it took is given back at once.
        var third = EdgeCallGrant()
        XCTAssertEqual(stage.evaluate(req, limiter: limiter, grant: &third, now: self.second)?.stage, "rate_limit")
        XCTAssertEqual(limiter.concurrency?.inFlight, 0)
    }

    func testSharedLimiterSurvivesAReloadOnlyWhenUnchanged() {
        let rule = RateLimitRule(key: .route, rate: LimitRate(count: 1, period: .seconds(1), text: "1/s"))
        let limits = RouteLimits(id: "unit.shared", rateLimits: [rule])
        let first = RouteLimiter.shared(for: limits)
        XCTAssertTrue(first === RouteLimiter.shared(for: limits), "another worker gets the same buckets")
        var changed = limits
        changed.rateLimits[0].burst = 5
        XCTAssertFalse(first === RouteLimiter.shared(for: changed))
    }
}

private extension Result where Failure == ConcurrencyCounter.RefusalError {
    var failureWhich: ConcurrencyCounter.Refusal? {
        if case .failure(let error) = self { return error.which }
        return nil
    }
}
