public import Config
import EventLoop
import TLS
import Transport

/// Fetches every provider's `jwks_uri` on a thread of its own (name resolution blocks), at start and then every
/// `jwks_refresh`. A new key set is stored in `JWKSSnapshots` and handed to `onUpdate`, which gives each worker
/// the same immutable set on its own loop. A failed fetch is logged and retried sooner; the keys in use stay.
public final class JWKSFetcher: Sendable {
    public typealias UpdateHandler = @Sendable (_ provider: String, _ uri: String, _ keys: JWTKeySet) -> Void

    /// A failed fetch is retried after this, or after `jwks_refresh` when that is shorter.
    static let failureRetry: Duration = .seconds(10)
    static let timeout: Duration = .seconds(10)

    private let thread: EventLoopThread?

    /// Starts fetching now; nothing runs when no provider has a `jwks_uri`.
    public init(providers: [JWTProviderConfig], snapshots: JWKSSnapshots = .shared, onUpdate: @escaping UpdateHandler) {
        let remote = providers.filter { $0.jwksURI != nil }
        guard !remote.isEmpty else {
            thread = nil
            return
        }
        thread = EventLoopThread(name: "jwks") { loop in
            let readBuffer = LoopReadBuffer()
            for provider in remote {
                let job = JWKSFetchJob(provider: provider, loop: loop, readBuffer: readBuffer, snapshots: snapshots,
                                       onUpdate: onUpdate)
                job.run()
            }
        }
    }

    public func stop() {
        guard let thread else { return }
        thread.loop.stop()
        thread.join()
    }
}

/// One provider's fetch loop, confined to the fetcher's loop.
final class JWKSFetchJob {
    let provider: JWTProviderConfig
    let uri: String
    let loop: EventLoop
    let readBuffer: LoopReadBuffer
    let snapshots: JWKSSnapshots
    let onUpdate: JWKSFetcher.UpdateHandler
    private var context: TLSClientContext?

    init(provider: JWTProviderConfig, loop: EventLoop, readBuffer: LoopReadBuffer, snapshots: JWKSSnapshots,
         onUpdate: @escaping JWKSFetcher.UpdateHandler) {
        self.provider = provider
        self.uri = provider.jwksURI ?? ""
        self.loop = loop
        self.readBuffer = readBuffer
        self.snapshots = snapshots
        self.onUpdate = onUpdate
    }

    func run() {
        fetch { [self] ok in
            let delay = ok ? provider.jwksRefresh : min(provider.jwksRefresh, JWKSFetcher.failureRetry)
            _ = loop.scheduleTimer(after: delay) { [self] in run() }
        }
    }

    private func fetch(then next: @escaping (Bool) -> Void) {
        func fail(_ why: String) {
            Log.warn("jwt", "provider \(provider.name): cannot fetch \(uri): \(why); keeping the keys in use")
            next(false)
        }
        guard let url = HTTPSURL(uri) else { return fail("not an https:// URL") }
        if context == nil {
            do throws(TLSSetupError) {
                context = try TLSClientContext(TLSClientSettings(caBundle: provider.jwksCA?.path, alpn: []))
            } catch {
                return fail("TLS setup: \(error.message)")
            }
        }
        guard let context else { return }
        guard let address = SocketAddress.resolve(host: url.host, port: url.port).first else {
            return fail("cannot resolve \(url.host)")
        }
        HTTPSGet.start(url, address: address, context: context, loop: loop, readBuffer: readBuffer,
                       maxBytes: JWKSDocument.maxBytes, timeout: JWKSFetcher.timeout) { [self] result in
            switch result {
            case .failure(let error):
                fail(error.description)
            case .success(let body):
                do throws(SignatureKeyError) {
                    let keys = try JWKSDocument.parse(body)
                    snapshots.store(keys, provider: provider.name, uri: uri)
                    Log.info("jwt", "provider \(provider.name): \(keys.keys.count) key(s) loaded from \(uri)")
                    onUpdate(provider.name, uri, keys)
                    next(true)
                } catch {
                    fail(error.message)
                }
            }
        }
    }
}
