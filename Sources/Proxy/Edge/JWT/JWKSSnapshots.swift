public import Config
import EventLoop

/// The key sets fetched from `jwks_uri`s, by provider name and URI, shared by the process: the fetcher stores each
/// new set here before handing it to the workers, and a worker building its edge stages (start, reload) starts from
/// what is here. Read only when stages are built, never per call (calls use their worker's own reference).
public final class JWKSSnapshots: Sendable {
    public static let shared = JWKSSnapshots()

    private let sets = Locked<[String: JWTKeySet]>([:])

    static func key(provider: String, uri: String) -> String { provider + "\n" + uri }

    public func store(_ keys: JWTKeySet, provider: String, uri: String) {
        sets.withLock { $0[Self.key(provider: provider, uri: uri)] = keys }
    }

    func current(provider: String, uri: String) -> JWTKeySet? {
        sets.withLock { $0[Self.key(provider: provider, uri: uri)] }
    }
}
